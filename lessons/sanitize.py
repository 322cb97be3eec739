"""Lesson 07: HTML sanitizing of comments, and a verifier that looks for executable markup.

Comments may carry a little HTML (bold, lists, links). Whatever a client sends is cleaned on
the way in with an *allow-list*: the tags, attributes and URL schemes below survive, everything
else is removed (OWASP ASVS 5.0 requirement 1.3.1: a well-known, secure sanitizing library).
A link survives only as an absolute ``https:`` or ``mailto:`` URL: relative and
scheme-relative ones (``//evil.example/``, ``\\evil.example``, which browsers read as links to
another host) are dropped too.

- ``sanitize_comment`` is the reference, with bleach, which the workbook's design names. bleach
  was deprecated in January 2023 and, with release 6.4.0 (June 2026), is no longer maintained at
  all, not even for security fixes: new code should use nh3 (see the lesson).
- ``sanitize_comment_nh3`` does the same with nh3, the Python binding of the Rust crate
  ammonia, which parses HTML with html5ever, the parser of the Servo browser engine.
- ``executable_markup`` is how the workbook *judges* a sanitizer: it parses the output as HTML
  and lists every element, event handler or URL that could run script or leave the allow-list
  of links; ``outside_allow_list`` lists every tag and attribute the allow-list does not name.
  It never searches the text for strings such as ``<script``: an encoded or oddly spelled
  payload slips past a string search, but not past a parser.
"""

from __future__ import annotations

import html as html_text
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

# How a browser reads a URL before anything else (the WHATWG URL standard): leading and
# trailing C0 control characters and spaces are dropped, and every tab, line feed and carriage
# return is removed, wherever it is. So "  java\tscript:" is javascript:.
_C0_AND_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)


def url_scheme(value: str) -> str | None:
    """The scheme a browser reads in a URL attribute's value (already entity-decoded), in
    lower case; None for a relative URL, ``//host/...`` and ``\\host`` included."""
    match = _SCHEME.match(_TAB_OR_NEWLINE.sub("", value.strip(_C0_AND_SPACE)))
    return match[1].lower() if match else None


def absolute_link(value: str) -> bool:
    """Whether an (entity-decoded) link is an absolute URL with an allowed scheme. Anything
    else goes: a relative link names whatever host the page that shows the comment decides,
    and a scheme-relative one (``//evil.example/``) names another host outright."""
    return url_scheme(value) in ALLOWED_PROTOCOLS


def link_attributes(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter for ``<a>``: ``title``, and ``href`` holding an absolute https
    or mailto link. bleach hands over the value as written, character references and all, so
    it is decoded first, as the browser will."""
    if name == "href":
        return absolute_link(html_text.unescape(value))
    return name in ALLOWED_ATTRIBUTES["a"]


def sanitize_comment(html: str) -> str:
    """The comment with only allow-listed tags, attributes and links left (bleach).

    ``protocols`` alone is not enough: bleach keeps every link *without* a scheme when https is
    allowed, ``//evil.example/`` included, so ``link_attributes`` decides about ``href``.
    ``strip=True`` removes a disallowed tag (keeping its text) instead of showing it escaped;
    comments (``<!-- -->``) are removed too. bleach parses the input the way a browser would
    (html5lib) and serializes a fresh, well-formed result, so what it returns is what it checked.
    """
    return bleach.clean(html, tags=ALLOWED_TAGS, attributes={"a": link_attributes},
                        protocols=ALLOWED_PROTOCOLS, strip=True, strip_comments=True)


def sanitize_comment_nh3(html: str) -> str:
    """The same allow-list with nh3 (ammonia). Two of ammonia's defaults go further than the
    list and are turned off: ``lang`` and ``title`` on every element (``"*"``: none here), and
    links without a scheme (``url_relative="deny"``). Differences from bleach: the text inside
    ``<script>`` and ``<style>`` is dropped with the tag, and links get ``rel="noopener
    noreferrer"`` added (``link_rel``), so a linked page cannot reach back into ours."""
    attributes = {"*": set(), **{tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}}
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=attributes,
                     url_schemes=set(ALLOWED_PROTOCOLS), url_relative="deny")


def keep_html(html: str) -> str:
    """VULNERABLE, the open service's stand-in: stores whatever HTML the client sent."""
    return html


def sanitize_schemes_only(html: str) -> str:
    """VULNERABLE, the first version of this lesson's reference: the right tags, attributes
    and schemes, but bleach keeps scheme-relative links (``//evil.example/``) when https is
    allowed, so a comment can still link to any host."""
    return bleach.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                        protocols=ALLOWED_PROTOCOLS, strip=True, strip_comments=True)


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


def executable_markup(html: str) -> list[str]:
    """Everything in ``html`` that could run script or leave the allow-list of links, found
    by parsing it: dangerous elements, ``on*`` attributes, and URL attributes that are not an
    absolute https or mailto URL as a browser reads them (decoded, tabs and newlines removed).
    Empty means nothing was found.

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
            elif name in URL_ATTRIBUTES and value is not None and not absolute_link(value):
                scheme = url_scheme(value)
                findings.append(f"{name}= with the scheme {scheme}: on <{tag}>" if scheme else
                                f"{name}= with a relative link ({value[:24]!r}) on <{tag}>")
    return findings


# The elements an HTML parser adds around any fragment: judged by their attributes only.
_DOCUMENT = frozenset({"html", "head", "body"})


def outside_allow_list(html: str) -> list[str]:
    """Every element and attribute in ``html`` that the allow-list does not name (``<img>``,
    ``id=`` on ``<p>``, ``title=`` anywhere but on ``<a>``...), found by parsing it. What a
    sanitizer returns must hold nothing else, harmless-looking or not: every extra tag or
    attribute is surface that nobody reviewed (ids and names can clobber a page's scripts'
    globals; ``style`` can lay a fake login box over the page)."""
    findings = []
    for node in LexborHTMLParser(html).root.traverse(include_text=False):
        tag = node.tag
        if tag not in ALLOWED_TAGS and tag not in _DOCUMENT:
            findings.append(f"<{tag}>")
        allowed = ALLOWED_ATTRIBUTES.get(tag, frozenset())
        findings += [f"{name}= on <{tag}>" for name in node.attributes if name not in allowed]
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
