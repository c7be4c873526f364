"""Paper text made safe and readable for the Markdown and HTML digests.

Paper text is untrusted (digests are scraped from the web), so Markdown gets no raw HTML, no
link, image, code or table syntax and no autolink from it: a GFM renderer links bare
``https://...``, ``www.…``, ``name@host`` and (markdown-it's linkify) ``host.com``, so the
character that triggers each is written as an HTML entity, which every CommonMark renderer
shows as the same character but no autolinker sees.

Titles and author names from arXiv often carry LaTeX (``$\\alpha$``, ``R\\'emy``):
``latex_to_text`` turns the simple cases into Unicode and leaves anything it cannot map as it
was, so nothing is silently dropped.
"""

from __future__ import annotations

import html
import re
import unicodedata

# Link, code and table syntax; emphasis (* _) is left alone: harmless, and labels use "_".
MD_SPECIAL_RE = re.compile(r"([\\`\[\]|])")
# What autolinkers look for: a scheme's "://", "www.", an e-mail's "@", and a dot inside a
# domain ("evil.example", "evil.com/x"; markdown-it's fuzzy linkify needs no scheme at all).
_AUTOLINK_RE = re.compile(r"(?<=[A-Za-z0-9])(:)(?=//)|(?<=\bwww)(\.)|(@)|(?<=[A-Za-z0-9])(\.)(?=[A-Za-z]{2})", re.I)
_ENTITIES = {":": "&#58;", ".": "&#46;", "@": "&#64;"}


def http_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL that is safe inside a link, else None: a ``javascript:`` or
    ``data:`` URL from a dataset or an old output must never become a live link."""
    url = (url or "").strip()
    if not re.match(r"https?://[^\s<>\"'()]+$", url, re.IGNORECASE):
        return None
    return url


def md_link(text: str, url: str | None) -> str:
    """``[text](url)`` with ``text`` escaped; just the text when ``url`` is not http(s)."""
    safe = http_url(url)
    return f"[{md_text(text)}]({safe})" if safe else md_text(text)


def md_text(text: str) -> str:
    """Paper text as literal Markdown: HTML is escaped (no ``<script>``, no ``<img onerror>``),
    the characters that make links, code or table cells are backslash-escaped, and the ones an
    autolinker keys on are entities (see the module docstring)."""
    escaped = MD_SPECIAL_RE.sub(r"\\\1", html.escape(text, quote=False))
    return _AUTOLINK_RE.sub(lambda m: _ENTITIES[m.group(0)], escaped)


# ---------------------------------------------------------------------------------- LaTeX

# Accent commands and the combining character each stands for (\'e -> é after NFC).
_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
}
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "l": "ł", "L": "Ł", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å"}
_GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma tau upsilon phi chi psi omega"  # noqa: E501
_SYMBOLS = dict(zip(_GREEK.split(), "αβγδεζηθικλμνξπρστυφχψω"))
_SYMBOLS.update(zip((name.capitalize() for name in _GREEK.split()), "ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΠΡΣΤΥΦΧΨΩ"))
_SYMBOLS.update(
    {
        "varepsilon": "ε",
        "vartheta": "ϑ",
        "varphi": "φ",
        "ell": "ℓ",
        "infty": "∞",
        "times": "×",
        "cdot": "·",
        "pm": "±",
        "leq": "≤",
        "le": "≤",
        "geq": "≥",
        "ge": "≥",
        "neq": "≠",
        "approx": "≈",
        "sim": "∼",
        "to": "→",
        "rightarrow": "→",
        "leftarrow": "←",
        "in": "∈",
        "sum": "∑",
        "partial": "∂",
        "nabla": "∇",
        "circ": "∘",
        "%": "%",
        "&": "&",
        "_": "_",
        "#": "#",
        "$": "$",
    }
)
_SUPER = str.maketrans("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")
_ACCENT_RE = re.compile(r"\{?\\([`'^\"~=.]|[uvHckr](?![A-Za-z]))\s*(?:\{\\?([A-Za-z])\}|\\?([A-Za-z]))\}?")
_LETTER_RE = re.compile(r"\{?\\(ss|ae|AE|oe|OE|aa|[oOlL])(?![A-Za-z])(?:\{\})?\}?")
_MATH_RE = re.compile(r"\$([^$]{1,80})\$")
_STYLE_RE = re.compile(
    r"\\(?:math(?:rm|bf|it|cal|bb|sf|tt)|text(?:rm|bf|it|sf|tt)?|operatorname|boldsymbol)\s*\{([^{}]*)\}"
)
_SCRIPT_RE = re.compile(r"([\^_])(?:\{([^{}]*)\}|(\S))")


def latex_to_text(text: str) -> str:
    """``text`` with simple LaTeX shown as Unicode: accents (``R\\'emy`` -> Rémy), ``$\\alpha$``
    -> α, ``$^2$`` -> ², ``\\mathcal{O}`` -> O. A math span with anything unmapped is kept as
    written, ``$`` and all, so a reader still sees what the author wrote."""
    if "\\" not in text and "$" not in text:
        return text
    text = _ACCENT_RE.sub(lambda m: (m.group(2) or m.group(3)) + _ACCENTS[m.group(1)], text)
    text = _LETTER_RE.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _MATH_RE.sub(lambda m: _math(m.group(1)) or m.group(0), text)
    return unicodedata.normalize("NFC", text)


def _math(expr: str) -> str | None:
    """One ``$...$`` span as plain text, or None when some part of it has no simple mapping."""
    expr = _STYLE_RE.sub(r"\1", expr)
    expr = re.sub(r"\\([A-Za-z]+|[%&_#$])", lambda m: _SYMBOLS.get(m.group(1), m.group(0)), expr)
    table = {"^": _SUPER, "_": _SUB}

    def script(m: re.Match[str]) -> str:
        body = m.group(2) if m.group(2) is not None else m.group(3)
        mapped = body.translate(table[m.group(1)])
        # Only when every character has a super/subscript form; else keep the marker for _math to refuse.
        return mapped if all(a != b or a.isspace() for a, b in zip(body, mapped)) else m.group(0)

    expr = _SCRIPT_RE.sub(script, expr)
    if re.search(r"[\\^_{}]", expr):
        return None
    return expr.replace("~", " ").strip()
