"""What the service is made of after a lesson, in words and as a diagram.

``python -m lessons stack --lesson N`` prints ``describe(assemble(N))``; the architecture
document (``docs/architecture.md``) embeds the same text for ``final`` and the ``mermaid``
diagram of a request's way through the stack, and a test fails when they are stale.
"""

from __future__ import annotations

import textwrap
from typing import Annotated, Any, get_args, get_origin

from lessons.layers import YOURS, Assembly, Layers


def name_of(thing: Any) -> str:
    """A readable name for a seam's implementation: ``module.qualname`` for functions and
    classes, the plain name for builtins, ``repr`` for anything else."""
    if thing is None:
        return "none (nothing in place)"
    if get_origin(thing) is Annotated:  # a constrained type, such as lesson 08's note id
        base, *extras = get_args(thing)
        rules = [str(rule) for extra in extras for rule in getattr(extra, "metadata", ())]
        return f"{name_of(base)} ({', '.join(rules)})" if rules else name_of(base)
    if getattr(thing, "__module__", None) == "builtins":
        return thing.__qualname__
    qualname = getattr(thing, "__qualname__", None)
    if qualname is not None and hasattr(thing, "__module__"):
        return f"{thing.__module__}.{qualname}"
    return repr(thing).replace("typing.", "")


def _lesson(number: int | None) -> str:
    if number is None:
        return "00 (open service default)"
    if number == YOURS:
        return "yours (an override)"
    return f"{number:02d}"


def describe(assembly: Assembly) -> str:
    """The middleware stack in order, then the routers, handlers, start-up work, serve
    options and the table of seams, each with the lesson that put it there."""
    origin = assembly.origin
    lines = [f"The Notes service after lesson {assembly.lesson:02d}", "",
             "Middleware, outermost first (a request passes them in this order):"]
    if not assembly.stack:
        lines.append("  (none)")
    for position, (slot, factory) in enumerate(assembly.stack, 1):
        lesson = _lesson(origin.get(("middleware", slot.name)))
        lines.append(f"  {position}. {slot.name:<18} lesson {lesson}  {name_of(factory)}")
        lines += textwrap.wrap(slot.why, 92, initial_indent="     ", subsequent_indent="     ")
    lines.append("  then the exception handlers and the routes.")
    sections: list[tuple[str, str, dict[Any, Any]]] = [
        ("Routers", "router", assembly.routers),
        ("Exception handlers", "handler", assembly.handlers),
        ("Start-up work", "startup", assembly.startup),
        ("Serve options (python -m lessons serve)", "serve", assembly.serve),
    ]
    for title, part, found in sections:
        lines += ["", f"{title}:"]
        if not found:
            lines.append("  (none)")
        for key, thing in found.items():
            label = key.__name__ if isinstance(key, type) else str(key)
            lines.append(f"  {label:<24} lesson {_lesson(origin.get((part, label)))}  "
                         f"{name_of(thing)}")
    width = max(16, *(len(seam) for seam in Layers.__dataclass_fields__))
    lines += ["", "Seams (what each route calls, and who filled it):",
              f"  {'seam':<{width}} {'lesson':<26} implementation"]
    for seam in Layers.__dataclass_fields__:
        implementation = getattr(assembly.layers, seam)
        lines.append(f"  {seam:<{width}} {_lesson(origin.get(('seam', seam))):<26} "
                     f"{name_of(implementation)}")
    return "\n".join(lines)


def mermaid(assembly: Assembly) -> str:
    """A flowchart of a request's way in: the client, each middleware in order, the exception
    handlers, then the routers."""
    lines = ["flowchart TB", '  client(["client"])']
    previous = "client"
    for slot, _ in assembly.stack:
        node = f"mw_{slot.name}"
        label = f"{slot.name} · lesson {_lesson(assembly.origin.get(('middleware', slot.name)))}"
        lines.append(f'  {node}["{label}"]')
        lines.append(f"  {previous} --> {node}")
        previous = node
    lines.append('  handlers{{"exception handlers"}}')
    lines.append(f"  {previous} --> handlers")
    for name in assembly.routers:
        lesson = _lesson(assembly.origin.get(("router", name)))
        lines.append(f'  router_{name}["{name} routes · lesson {lesson}"]')
        lines.append(f"  handlers --> router_{name}")
    return "\n".join(lines)
