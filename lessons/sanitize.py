"""Lesson 07: HTML sanitizing of comments, and a verifier that looks for executable markup.

Comments may carry a little HTML (bold, lists, links). Whatever a client sends is cleaned on
the way in with an *allow-list*: the tags, attributes and URL schemes below survive, everything
else is removed (OWASP ASVS 5.0 requirement 1.3.1: a well-known, secure sanitizing library).

- ``sanitize_comment`` is the reference, with bleach, which the workbook's design names. bleach
  was deprecated in January 2023 and, with release 6.4.0 (June 2026), is no longer maintained at
  all, not even for security fixes: new code should use nh3 (see the lesson).
- ``sanitize_comment_nh3`` does the same with nh3, the Python binding of the Rust crate
  ammonia, which parses HTML with html5ever, the parser of the Servo browser engine.
- ``executable_markup`` is how the workbook *judges* a sanitizer: it parses the output as HTML
  and lists every element, event handler or URL that could run script or leave the allow-list.
  It never searches the text for strings such as ``<script``: an encoded or oddly spelled
  payload slips past a string search, but not past a parser.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources

import bleach
import nh3
from selectolax.lexbor import LexborHTMLParser

# The contract's allow-list: formatting, code, lists and links; nothing that loads or runs.
ALLOWED_TAGS = frozenset({"p", "br", "b", "i", "em", "strong", "code", "pre", "ul", "ol", "li",
                          "a"})
ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "title"})}
# Links may only be https or mailto: no javascript:, data:, vbscript: ... and no plain http.
ALLOWED_PROTOCOLS = frozenset({"https", "mailto"})

Sanitizer = Callable[[str], str]


def sanitize_comment(html: str) -> str:
    """The comment with only allow-listed tags, attributes and link schemes left (bleach).

    ``strip=True`` removes a disallowed tag (keeping its text) instead of showing it escaped;
    comments (``<!-- -->``) are removed too. bleach parses the input the way a browser would
    (html5lib) and serializes a fresh, well-formed result, so what it returns is what it checked.
    """
    return bleach.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        protocols=ALLOWED_PROTOCOLS, strip=True, strip_comments=True)


def sanitize_comment_nh3(html: str) -> str:
    """The same allow-list with nh3 (ammonia). Differences from bleach: the text inside
    ``<script>`` and ``<style>`` is dropped with the tag, and links get ``rel="noopener
    noreferrer"`` added (``link_rel``), so a linked page cannot reach back into ours."""
    return nh3.clean(html, tags=set(ALLOWED_TAGS),
                     attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
                     url_schemes=set(ALLOWED_PROTOCOLS))


def keep_html(html: str) -> str:
    """VULNERABLE, the open service's stand-in: stores whatever HTML the client sent."""
    return html


SCRIPT_TAG = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)


def strip_script_tags(html: str) -> str:
    """VULNERABLE, a popular half-fix: removes ``<script>...</script>`` with a regular
    expression. Script runs from dozens of other places (``onerror=``, ``javascript:`` links,
    SVG), and even ``<scr<script></script>ipt>`` puts a script tag back together."""
    return SCRIPT_TAG.sub("", html)


# -- judging a sanitizer's output ------------------------------------------------------------

# Elements that run script, load active content, or change how the rest of the page is parsed.
DANGEROUS_ELEMENTS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "base", "meta", "link", "form", "template", "noscript", "xmp", "plaintext",
    "noembed", "noframes",
})
# Attributes whose value a browser follows as a URL (or, for srcdoc, parses as a document).
URL_ATTRIBUTES = frozenset({
    "href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
    "lowsrc", "dynsrc", "ping", "srcset",
})
# Browsers ignore ASCII whitespace and control characters inside a URL's scheme
# ("java\tscript:" is javascript:), so they are removed before the scheme is read.
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute value that is already entity-decoded,
    lower-case; None for a relative URL."""
    match = _SCHEME.match(_IGNORED_IN_URLS.sub("", value))
    return match[1].lower() if match else None


def executable_markup(html: str) -> list[str]:
    """Everything in ``html`` that could run script or leave the comment allow-list, found by
    parsing it: dangerous elements, ``on*`` attributes, and URL attributes whose decoded,
    whitespace-stripped scheme is not https or mailto. Empty means nothing was found.

    The parser is lexbor (through selectolax), an HTML5 parser that follows the WHATWG rules
    browsers use, and a third implementation besides bleach's (html5lib) and nh3's
    (html5ever): the judge does not share a blind spot with either sanitizer. It decodes
    character references in attribute values, as a browser does, before anything is checked.
    """
    findings = []
    for node in LexborHTMLParser(html).root.traverse(include_text=False):
        tag = node.tag
        if tag in DANGEROUS_ELEMENTS:
            findings.append(f"<{tag}> element")
        for name, value in node.attributes.items():
            name = name.lower()
            if name.startswith("on"):
                findings.append(f"{name}= event handler on <{tag}>")
            elif name == "srcdoc":
                findings.append(f"srcdoc= on <{tag}>")
            elif name in URL_ATTRIBUTES and value is not None:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in ALLOWED_PROTOCOLS:
                    findings.append(f"{name}= with the scheme {scheme}: on <{tag}>")
    return findings


# -- the XSS payload corpus and the bleach/nh3 comparison -----------------------------------


def xss_corpus() -> list[str]:
    """The workbook's XSS payloads (``lessons/data/xss_payloads.txt``: one JSON string per
    line, so that tabs, newlines and control characters inside a payload survive)."""
    text = resources.files("lessons").joinpath("data/xss_payloads.txt").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Audit:
    sanitizer: str
    payloads: int
    unsafe: list[tuple[str, str, list[str]]]  # (payload, output, findings)

    @property
    def passed(self) -> bool:
        return not self.unsafe


def audit(sanitizer: Sanitizer, payloads: Iterable[str], name: str = "") -> Audit:
    """Run every payload through ``sanitizer`` and parse each output for executable markup."""
    unsafe = []
    count = 0
    for payload in payloads:
        count += 1
        output = sanitizer(payload)
        findings = executable_markup(output)
        if findings:
            unsafe.append((payload, output, findings))
    return Audit(name or getattr(sanitizer, "__name__", "sanitizer"), count, unsafe)


def seconds_per_call(sanitizer: Sanitizer, payloads: list[str], rounds: int = 20) -> float:
    """Mean time of one sanitizer call over the corpus (best of three batches of ``rounds``)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            for payload in payloads:
                sanitizer(payload)
        best = min(best, time.perf_counter() - start)
    return best / (rounds * len(payloads))
