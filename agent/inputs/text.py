"""Text helpers every input format shares: arXiv ids, whitespace, author lists, summaries.

They live apart from the parsers so that the markdown, JSON, Atom and arXiv readers agree on
what an arXiv id is and how a field is cleaned, whatever format the paper came in.
"""

from __future__ import annotations

import re

# New-style (2101.00001) and old-style (cs/0112017, math.GT/0309136) arXiv ids.
ARXIV_ID = r"(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
ARXIV_URL_RE = re.compile(rf"arxiv\.org/(?:abs|pdf|html)/(?P<id>{ARXIV_ID})(?:v\d+)?(?:\.pdf)?", re.IGNORECASE)
# A bare id, ``arXiv:``-prefixed, or the OAI identifier arXiv's daily feeds use as entry ids.
BARE_ID_RE = re.compile(rf"^(?:arxiv:|oai:arxiv\.org:)?(?P<id>{ARXIV_ID})(?:v\d+)?$", re.IGNORECASE)

# Summaries that digest bots write when their own LLM call failed: not summaries.
PLACEHOLDER_RE = re.compile(
    r"^\s*(?:summary generation failed|generation failed|failed to generate.*|"
    r"error[:\s].*|error|n/?a|none|null|tl;?dr generation failed|no summary.*|-+|\.+)\s*$",
    re.IGNORECASE,
)
QUOTE_RE = re.compile(r"^\s*>\s?")


def normalize_ws(text: str) -> str:
    """Collapse hard wraps and runs of whitespace: arXiv abstracts are wrapped at 80 columns.

    ``str.split()`` splits on the same (Unicode) whitespace as ``\\s+`` at a third of the cost.
    """
    return " ".join(text.split())


def arxiv_id(text: str) -> str | None:
    """The arXiv id (no version) in a URL or bare id, or None."""
    text = text.strip()
    m = ARXIV_URL_RE.search(text) or BARE_ID_RE.match(text)
    return m.group("id") if m else None


def abs_url(pid: str) -> str:
    """The canonical abstract page, so every format gives a paper the same ``url``."""
    return f"https://arxiv.org/abs/{pid}"


def clean_summary(text: str | None) -> str | None:
    """A digest's own summary, or None when it is empty or a bot's failure placeholder."""
    if text is None:
        return None
    text = normalize_ws(text)
    if not text or PLACEHOLDER_RE.match(text):
        return None
    return text


def split_authors(text: str) -> list[str]:
    """Authors from one line: digests separate them with commas, semicolons or "and"."""
    text = normalize_ws(text)
    if not text:
        return []
    parts = re.split(r"\s*[,;]\s*|\s+and\s+", text)
    return [p for p in (part.strip() for part in parts) if p]
