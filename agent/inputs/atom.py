"""Atom feeds as arXiv serves them: an API response, a daily announcement feed, or either
saved to a file (the ``atom`` input format).

One parser for all of them, so a file and a live fetch (``agent.inputs.arxiv``) read the same
way. ``read_atom`` also returns what the feed says about itself (``AtomFeed``), which the
fetcher needs to page through results and to tell an API error from an empty answer.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from agent.errors import InputError
from agent.inputs.text import abs_url, arxiv_id, normalize_ws, split_authors
from agent.schema import Paper

log = logging.getLogger(__name__)

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
DC = "{http://purl.org/dc/elements/1.1/}"
# The daily feeds (rss.arxiv.org) start each summary with "arXiv:2405.01234v1 Announce Type:
# new Abstract: ...": the abstract is what follows.
ANNOUNCE_PREFIX_RE = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s+Abstract:\s*", re.IGNORECASE)


@dataclass
class AtomFeed:
    """An Atom document as arXiv serves it: the papers plus what the feed says about itself.

    ``total_results`` is the API's ``opensearch:totalResults`` (None for the daily feeds), so
    a caller paging through a result set knows when it has all of it. ``error`` is the message
    of the error entry the API returns for a query it cannot run (HTTP 200 with one entry
    titled "Error"), so that is reported rather than read as a feed with no papers.
    """

    papers: list[Paper]
    total_results: int | None = None
    start_index: int | None = None
    entries: int = 0
    error: str | None = None
    query_error: str | None = None  # a daily feed titled "Feed error for query: ..." (unknown category)


def _atom_text(entry: ET.Element, tag: str) -> str:
    """The text of a child, namespaced or not (saved feeds sometimes lose the namespace)."""
    el = entry.find(f"{ATOM}{tag}")
    if el is None:
        el = entry.find(tag)
    return el.text or "" if el is not None else ""


def _atom_int(root: ET.Element, tag: str) -> int | None:
    """An opensearch number of the feed, or None when it is missing or not a number."""
    text = root.findtext(f"{OPENSEARCH}{tag}")
    try:
        return int(text) if text is not None and text.strip() else None
    except ValueError:
        return None


def _feed_root(text: str, path: str) -> ET.Element:
    """The ``<feed>`` element, refusing entity declarations (no entity expansion, ever)."""
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise InputError(path, "Atom feed with a DOCTYPE/ENTITY declaration is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(path, f"malformed XML ({exc})") from None
    if root.tag not in (f"{ATOM}feed", "feed"):
        raise InputError(path, f"not an Atom feed (root element <{root.tag.rsplit('}', 1)[-1]}>)")
    return root


def _entry_lines(text: str) -> list[int]:
    """Line numbers of the ``<entry>`` tags, counted incrementally (ElementTree keeps none)."""
    lines: list[int] = []
    line, pos = 1, 0
    for m in re.finditer(r"<entry[\s>]", text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        lines.append(line)
    return lines


def _entry_categories(entry: ET.Element) -> list[str]:
    """The entry's categories, primary first, each once."""
    categories = [c.get("term", "") for c in entry.iter() if c.tag.endswith("category")]
    primary = entry.find(f"{ARXIV_NS}primary_category")
    if primary is not None and primary.get("term") in categories:
        categories.remove(primary.get("term", ""))
        categories.insert(0, primary.get("term", ""))
    return [c for c in dict.fromkeys(categories) if c]


def _entry_paper(entry: ET.Element, n: int, title: str, path: str, line: int) -> Paper | None:
    """The paper of entry ``n``, or None (with a warning) when it has no arXiv id or title."""
    pid = arxiv_id(_atom_text(entry, "id"))
    if pid is None:
        link = next((lk.get("href", "") for lk in entry.iter() if lk.tag.endswith("link")), "")
        pid = arxiv_id(link)
    if pid is None:
        log.warning("%s: skipped entry %d: no arXiv id", path, n)
        return None
    if not title or title.lower() == "error":
        log.warning("%s: skipped entry %d (%s): no title", path, n, pid)
        return None
    authors = [
        normalize_ws(a.findtext(f"{ATOM}name") or a.findtext("name") or "")
        for a in entry.findall(f"{ATOM}author") + entry.findall("author")
    ]
    if not authors:  # the daily feeds list authors in one <dc:creator>
        authors = [a for c in entry.findall(f"{DC}creator") for a in split_authors(c.text or "")]
    announce = entry.findtext(f"{ARXIV_NS}announce_type")
    return Paper(
        id=pid,
        title=title,
        authors=[a for a in authors if a],
        abstract=normalize_ws(ANNOUNCE_PREFIX_RE.sub("", _atom_text(entry, "summary"))),
        url=abs_url(pid),
        categories=_entry_categories(entry),
        announce_type=announce.strip() if announce and announce.strip() else None,
        source_file=path,
        source_line=line,
        source_format="atom",
    )


def read_atom(text: str, path: str) -> AtomFeed:
    """Parse an arXiv Atom document: an API response, a daily feed, or either saved to a file.

    Raises ``InputError`` for XML that does not parse or whose root is not an Atom ``<feed>``.
    """
    root = _feed_root(text, path)
    entries = root.findall(f"{ATOM}entry") or root.findall("entry")
    feed = AtomFeed(
        papers=[],
        total_results=_atom_int(root, "totalResults"),
        start_index=_atom_int(root, "startIndex"),
        entries=len(entries),
    )
    # The daily feeds answer an unknown category with HTTP 200 and a feed titled "Feed error
    # for query: ..." and no entries; read as a feed, it would pass for a weekend.
    feed_title = normalize_ws(root.findtext(f"{ATOM}title") or root.findtext("title") or "")
    if feed_title.lower().startswith("feed error for query"):
        feed.query_error = feed_title
    lines = _entry_lines(text)
    for n, entry in enumerate(entries, start=1):
        title = normalize_ws(_atom_text(entry, "title"))
        if "/api/errors" in _atom_text(entry, "id") and title.lower() == "error":
            feed.error = normalize_ws(_atom_text(entry, "summary")) or "the arXiv API reported an error"
            continue
        paper = _entry_paper(entry, n, title, path, lines[n - 1] if n <= len(lines) else n)
        if paper is not None:
            feed.papers.append(paper)
    return feed


def parse_atom(text: str, path: str) -> Iterator[Paper]:
    """Papers of an Atom file; an API error entry in it is an ``InputError``."""
    feed = read_atom(text, path)
    if feed.error is not None:
        raise InputError(path, f"arXiv API error: {feed.error}")
    yield from feed.papers
