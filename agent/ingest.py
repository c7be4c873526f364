"""Read paper lists into ``Paper`` records.

Formats (detected from content; ``input_format=`` overrides):

- ``digest-md``: the daily-arXiv-ai-enhanced markdown digest (``### [N] [Title](abs URL)``,
  ``*authors*``, ``TL;DR:``, ``Abstract:``) and its variants (no index, ``TLDR:``, bold or quoted
  field names, ``vN`` links, hard-wrapped abstracts).
- ``table-md``: the "arXiv Daily Report" markdown table (``| Title | Link | abstract | author |``),
  where a row may run on over lines that begin with two spaces.
- ``jsonl``: one JSON object per line, either our own ``Paper`` records or the records
  daily-arXiv-ai-enhanced writes (``id, title, authors, summary, categories, abs, AI{tldr}``).
  A JSON array of such objects (``json``) is read the same way.
- ``atom``: an arXiv API Atom feed saved to a file.

Whole-file problems raise ``InputError`` (one line, names the file). A malformed entry inside
an otherwise good file is skipped with a warning naming file and line, through the
``agent.ingest`` logger, so one bad entry never costs the rest of the digest.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import InputError
from agent.schema import Paper

log = logging.getLogger("agent.ingest")

FORMATS = ("digest-md", "table-md", "jsonl", "json", "atom")

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
    return f"https://arxiv.org/abs/{pid}"


def clean_summary(text: str | None) -> str | None:
    if text is None:
        return None
    text = normalize_ws(text)
    if not text or PLACEHOLDER_RE.match(text):
        return None
    return text


def split_authors(text: str) -> list[str]:
    text = normalize_ws(text)
    if not text:
        return []
    parts = re.split(r"\s*[,;]\s*|\s+and\s+", text)
    return [p for p in (part.strip() for part in parts) if p]


# --------------------------------------------------------------------------- reading files


HEAD_BYTES = 1 << 16


def _read_error(path: Path, exc: OSError) -> InputError:
    if isinstance(exc, FileNotFoundError):
        return InputError(str(path), "no such file or directory")
    if isinstance(exc, IsADirectoryError):
        return InputError(str(path), "is a directory")
    if isinstance(exc, PermissionError):
        return InputError(str(path), "permission denied")
    return InputError(str(path), f"cannot read ({exc.strerror or exc})")


def _decode(data: bytes, path: Path, final: bool = True) -> str:
    try:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        text = decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or ASCII text with a NUL in every other byte (UTF-16 without one)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = data[:512]
    if len(sample) < 8:
        return False
    # One half of the bytes (nearly) all NUL and the other half (nearly) none: a run of NULs
    # in a binary file fills both halves.
    halves = [half.count(0) / len(half) for half in (sample[0::2], sample[1::2])]
    return max(halves) >= 0.9 and min(halves) <= 0.1


def _check_bytes(data: bytes, path: Path, complete: bool) -> str:
    """Reject empty, binary and non-UTF-8 content; ``complete`` says ``data`` is the whole file."""
    if complete and not data.strip():
        raise InputError(str(path), "file is empty")
    if _looks_utf16(data):
        # Windows tools (PowerShell's `>`, Notepad's "Unicode") write UTF-16: say so, not "binary".
        raise InputError(
            str(path), f"UTF-16 text, expected UTF-8 (convert it: iconv -f UTF-16 -t UTF-8 {path} > {path}.utf8)"
        )
    if b"\x00" in data[:8192]:
        raise InputError(str(path), "binary file (contains NUL bytes), expected a text digest")
    return _decode(data, path, final=complete)


def check_file(path: Path) -> str:
    """Check that ``path`` looks like a readable text digest and return its first 64 KiB.

    Cheap enough to run on every input before any work starts: a typo, an empty file, a
    binary or non-UTF-8 file fails the run at once with one line naming the file.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
            more = bool(fh.read(1))
    except OSError as exc:
        raise _read_error(path, exc) from None
    return _check_bytes(head, path, complete=not more)


def read_text(path: Path) -> str:
    """Read a whole file as UTF-8 text, or raise ``InputError`` saying what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _read_error(path, exc) from None
    return _check_bytes(data, path, complete=True)


def _stream_lines(path: Path) -> Iterator[tuple[int, str]]:
    """A JSON Lines file line by line, so a 100,000-paper file never sits in memory whole."""
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError:
                    log.warning("%s:%d: skipped line: not UTF-8", path, lineno)
                    continue
                yield lineno, line
    except OSError as exc:
        raise _read_error(path, exc) from None


# A paper heading: an optional index, then the linked title; text after the link (a venue,
# "(NeurIPS 2025)") is allowed and ignored.
HEADING_RE = re.compile(r"^#{2,4}\s*(?:\[\d+\]\s*|\d+\.\s+)?\[(?P<title>.+?)\]\((?P<url>[^)\s]+)\)(?:\s+\S.*)?\s*$")
# A heading numbered like a paper entry ("### [3] ...", "### 3. ...") but without a usable link.
ENTRY_HEADING_RE = re.compile(r"^#{2,4}\s*(?:\[\d+\]|\d+\.)\s*\S")
TABLE_HEADER_RE = re.compile(r"^\|.*\btitle\b.*\|", re.IGNORECASE)


def detect_format(text: str, path: str = "<text>") -> str:
    """Name the format of ``text`` from its content, or raise ``InputError``."""
    head = text.lstrip()[:2048]
    if head.startswith("<?xml") or re.search(r"<feed[\s>]", head):
        return "atom"
    if head.startswith("{"):
        return "jsonl"
    if head.startswith("["):
        # A JSON array, unless it is a markdown link line.
        if re.match(r"^\[\s*[\{\]]", head):
            return "json"
    lines = text.split("\n")
    if any(HEADING_RE.match(line) for line in lines):
        return "digest-md"
    if any(TABLE_HEADER_RE.match(line) for line in lines[:200]):
        return "table-md"
    raise InputError(
        path,
        "no known format (expected a daily-arXiv digest, an arXiv Daily Report table, "
        "JSON Lines or an Atom feed; use --input-format to force one)",
    )


# --------------------------------------------------------------------------- digest markdown

FIELD_RE = re.compile(
    r"^\s*(?:>\s*)?(?:[-*]\s+)?(?:\*\*|__)?\s*"
    r"(?P<key>TL;\s?DR|TLDR|TL-DR|Abstract|Summary|Motivation|Method|Methods|Result|Results|"
    r"Conclusion|Main category|Category|Categories|Keywords|Comment|Comments|AI_Comments|"
    r"ai_Abstract|摘要翻译|Translation)"
    r"\s*(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<value>.*)$",
    re.IGNORECASE,
)
END_RE = re.compile(r"^\s*(?:</details>|<details>|<summary>|<div\b|#{1,6}\s|\[\*\*|---\s*$)")


def _field_key(raw: str) -> str:
    key = raw.lower().replace(" ", "")
    if key in {"tl;dr", "tldr", "tl-dr"}:
        return "tldr"
    if key in {"maincategory", "category", "categories"}:
        return "category"
    return key


def _parse_fields(lines: list[str]) -> dict[str, str]:
    """Collect ``Key: value`` fields in an entry; a field runs on until the next field or an end marker."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines:
        m = FIELD_RE.match(line)
        if m:
            current = _field_key(m.group("key"))
            fields.setdefault(current, []).append(m.group("value"))
            continue
        if END_RE.match(line):
            current = None
            continue
        if current is not None:
            fields[current].append(QUOTE_RE.sub("", line) if ">" in line[:8] else line)
    return {k: normalize_ws(" ".join(v)) for k, v in fields.items()}


def _authors_line(lines: list[str]) -> list[str]:
    for line in lines[:4]:
        s = line.strip()
        m = re.match(r"^\*(?!\*)(?P<a>[^*]+)\*", s) or re.match(r"^_(?!_)(?P<a>[^_]+)_", s)
        if m:
            return split_authors(m.group("a"))
        m = re.match(r"^(?:\*\*)?Authors?(?:\*\*)?\s*[:：]\s*(?:\*\*)?(?P<a>.+)$", s, re.IGNORECASE)
        if m:
            return split_authors(m.group("a").replace("*", ""))
    return []


def parse_digest_md(text: str, path: str) -> Iterator[Paper]:
    lines = text.split("\n")
    starts: list[int] = []
    bounds: list[int] = []  # where an entry ends: the next paper heading or unusable entry heading
    for i, line in enumerate(lines):
        if HEADING_RE.match(line):
            starts.append(i)
            bounds.append(i)
        elif ENTRY_HEADING_RE.match(line):
            log.warning("%s:%d: skipped heading: no [Title](arXiv link) in %r", path, i + 1, line.strip()[:120])
            bounds.append(i)
    bounds.append(len(lines))
    ends = iter(bounds)
    for start in starts:
        end = next(b for b in ends if b > start)
        m = HEADING_RE.match(lines[start])
        if m is None:  # pragma: no cover - starts only holds matching lines
            continue
        pid = arxiv_id(m.group("url"))
        if pid is None:
            log.warning("%s:%d: skipped entry: no arXiv id in link %r", path, start + 1, m.group("url"))
            continue
        body = lines[start + 1 : end]
        fields = _parse_fields(body)
        category = fields.get("category", "")
        categories = re.findall(r"[a-z\-]+(?:\.[A-Za-z\-]+)?", category) if category else []
        yield Paper(
            id=pid,
            title=normalize_ws(m.group("title")),
            authors=_authors_line(body),
            abstract=fields.get("abstract", "") or "",
            url=abs_url(pid),
            categories=categories,
            digest_summary=clean_summary(fields.get("tldr")),
            source_file=path,
            source_line=start + 1,
            source_format="digest-md",
        )


# --------------------------------------------------------------------------- markdown table

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title", "paper", "name"),
    "link": ("link", "url", "arxiv", "abs", "pdf", "id"),
    "abstract": ("abstract", "summary", "abstracts"),
    "authors": ("author", "authors"),
    "tldr": ("tldr", "tl;dr", "tl; dr"),
}


def _split_row(line: str, strip: bool = True) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    # Split on pipes that are not escaped (\|).
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip() for c in cells] if strip else cells


MD_LINK_RE = re.compile(r"\[(.+)\]\((\S+)\)")


def parse_table_md(text: str, path: str) -> Iterator[Paper]:
    lines = text.split("\n")
    header_at = next((i for i, line in enumerate(lines) if TABLE_HEADER_RE.match(line)), None)
    if header_at is None:
        raise InputError(path, "no table header with a Title column")
    header = [h.lower() for h in _split_row(lines[header_at])]
    col: dict[str, int] = {}
    for i, name in enumerate(header):
        for field, aliases in TABLE_COLUMNS.items():
            if field not in col and name in aliases:
                col[field] = i
    if "title" not in col:
        raise InputError(path, f"table header needs a Title column, found {header}")
    # Join run-on lines (rows continue on lines that start with whitespace) into logical rows.
    rows: list[tuple[int, str]] = []
    for i in range(header_at + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        if line.startswith("|"):
            rows.append((i + 1, line))
        elif rows and line[:1].isspace():
            rows[-1] = (rows[-1][0], rows[-1][1] + "\n" + line)
        elif rows:
            log.warning("%s:%d: skipped line outside the table", path, i + 1)
    width = len(header)
    abstract_col = col.get("abstract")
    for lineno, row in rows:
        cells = _split_row(row, strip=False)
        if all(re.fullmatch(r"\s*:?-{2,}:?\s*", c) for c in cells if c.strip()):
            continue  # the |---|---| separator
        if len(cells) > width and abstract_col is not None:
            # A stray "|" inside the abstract (LaTeX |x|): fold the extra cells back into it,
            # exactly as written.
            extra = len(cells) - width
            merged = "|".join(cells[abstract_col : abstract_col + extra + 1])
            cells = cells[:abstract_col] + [merged] + cells[abstract_col + extra + 1 :]
        cells = [c.strip() for c in cells]
        if len(cells) != width:
            log.warning("%s:%d: skipped row: %d cells, expected %d", path, lineno, len(cells), width)
            continue
        # The id comes from the Link column, or from a link in the title cell
        # ("| [Title](https://arxiv.org/abs/ID) | ..."), or from any cell that has one.
        link_cells = [cells[col["link"]]] if "link" in col else []
        pid = next((i for i in map(arxiv_id, [*link_cells, cells[col["title"]], *cells]) if i), None)
        if pid is None:
            log.warning("%s:%d: skipped row: no arXiv link or id", path, lineno)
            continue
        title = normalize_ws(cells[col["title"]])
        linked = MD_LINK_RE.fullmatch(title)
        if linked:
            title = linked.group(1).strip()
        if not title:
            log.warning("%s:%d: skipped row: empty title", path, lineno)
            continue
        yield Paper(
            id=pid,
            title=title,
            authors=split_authors(cells[col["authors"]]) if "authors" in col else [],
            abstract=normalize_ws(cells[abstract_col]) if abstract_col is not None else "",
            url=abs_url(pid),
            digest_summary=clean_summary(cells[col["tldr"]]) if "tldr" in col else None,
            source_file=path,
            source_line=lineno,
            source_format="table-md",
        )


# --------------------------------------------------------------------------- JSON records


def paper_from_record(rec: dict[str, Any], path: str, line: int, fmt: str) -> Paper | None:
    """Map our own ``Paper`` records and daily-arXiv-ai-enhanced records onto ``Paper``."""
    raw_id = str(rec.get("id") or rec.get("arxiv_id") or "")
    link = str(rec.get("abs") or rec.get("url") or rec.get("link") or "")
    pid = arxiv_id(raw_id) or arxiv_id(link)
    if pid is None:
        log.warning("%s:%d: skipped record: no arXiv id", path, line)
        return None
    title = normalize_ws(str(rec.get("title") or ""))
    if not title:
        log.warning("%s:%d: skipped record %s: no title", path, line, pid)
        return None
    authors = rec.get("authors") or []
    if isinstance(authors, str):
        authors = split_authors(authors)
    elif isinstance(authors, list):
        authors = [normalize_ws(a if isinstance(a, str) else str(a.get("name", ""))) for a in authors]
    categories = rec.get("categories") or []
    if isinstance(categories, str):
        categories = categories.split()
    summary = rec.get("digest_summary")
    ai = rec.get("AI")
    if summary is None and isinstance(ai, dict):
        summary = ai.get("tldr")
    elif summary is None:
        summary = rec.get("tldr")
    return Paper(
        id=pid,
        title=title,
        authors=[a for a in authors if a],
        abstract=normalize_ws(str(rec.get("abstract") or rec.get("summary") or "")),
        url=abs_url(pid),
        categories=[str(c) for c in categories],
        digest_summary=clean_summary(summary if isinstance(summary, str) else None),
        source_file=path,
        source_line=line,
        source_format=fmt,
    )


def _json_problem(exc: json.JSONDecodeError) -> str:
    """``exc.msg`` with its position: some messages end in "at" and need one to be a sentence."""
    joiner = " column" if exc.msg.endswith(" at") else " at column"
    return f"{exc.msg}{joiner} {exc.colno}"


def parse_jsonl(text: str, path: str) -> Iterator[Paper]:
    return parse_jsonl_lines(enumerate(text.split("\n"), start=1), path)


def parse_jsonl_lines(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Paper]:
    for i, line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line.rstrip("\r\n"))  # a newline inside an unclosed string is no clue
        except json.JSONDecodeError as exc:
            log.warning("%s:%d: skipped line: invalid JSON (%s)", path, i, _json_problem(exc))
            continue
        if not isinstance(rec, dict):
            log.warning("%s:%d: skipped line: expected a JSON object", path, i)
            continue
        paper = paper_from_record(rec, path, i, "jsonl")
        if paper is not None:
            yield paper


def parse_json(text: str, path: str) -> Iterator[Paper]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON array of paper objects")
    for i, rec in enumerate(data):
        if isinstance(rec, dict):
            paper = paper_from_record(rec, path, i + 1, "json")
            if paper is not None:
                yield paper
        else:
            log.warning("%s: skipped item %d: expected a JSON object", path, i + 1)


# --------------------------------------------------------------------------- Atom feed

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


def _atom_text(entry: ET.Element, tag: str) -> str:
    el = entry.find(f"{ATOM}{tag}")
    if el is None:
        el = entry.find(tag)
    return el.text or "" if el is not None else ""


def _atom_int(root: ET.Element, tag: str) -> int | None:
    text = root.findtext(f"{OPENSEARCH}{tag}")
    try:
        return int(text) if text is not None and text.strip() else None
    except ValueError:
        return None


def read_atom(text: str, path: str) -> AtomFeed:
    """Parse an arXiv Atom document: an API response, a daily feed, or either saved to a file.

    Raises ``InputError`` for XML that does not parse or whose root is not an Atom ``<feed>``.
    """
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise InputError(path, "Atom feed with a DOCTYPE/ENTITY declaration is not accepted")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(path, f"malformed XML ({exc})") from None
    if root.tag not in (f"{ATOM}feed", "feed"):
        raise InputError(path, f"not an Atom feed (root element <{root.tag.rsplit('}', 1)[-1]}>)")
    entries = root.findall(f"{ATOM}entry") or root.findall("entry")
    feed = AtomFeed(
        papers=[],
        total_results=_atom_int(root, "totalResults"),
        start_index=_atom_int(root, "startIndex"),
        entries=len(entries),
    )
    # Line numbers of the <entry> tags, counted incrementally (ElementTree keeps none).
    lines: list[int] = []
    line, pos = 1, 0
    for m in re.finditer(r"<entry[\s>]", text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        lines.append(line)
    for n, entry in enumerate(entries, start=1):
        raw_id = _atom_text(entry, "id")
        title = normalize_ws(_atom_text(entry, "title"))
        if "/api/errors" in raw_id and title.lower() == "error":
            feed.error = normalize_ws(_atom_text(entry, "summary")) or "the arXiv API reported an error"
            continue
        pid = arxiv_id(raw_id)
        if pid is None:
            link = next((lk.get("href", "") for lk in entry.iter() if lk.tag.endswith("link")), "")
            pid = arxiv_id(link)
        if pid is None:
            log.warning("%s: skipped entry %d: no arXiv id", path, n)
            continue
        if not title or title.lower() == "error":
            log.warning("%s: skipped entry %d (%s): no title", path, n, pid)
            continue
        authors = [
            normalize_ws(a.findtext(f"{ATOM}name") or a.findtext("name") or "")
            for a in entry.findall(f"{ATOM}author") + entry.findall("author")
        ]
        if not authors:  # the daily feeds list authors in one <dc:creator>
            authors = [a for c in entry.findall(f"{DC}creator") for a in split_authors(c.text or "")]
        categories = [c.get("term", "") for c in entry.iter() if c.tag.endswith("category")]
        primary = entry.find(f"{ARXIV_NS}primary_category")
        if primary is not None and primary.get("term") in categories:
            categories.remove(primary.get("term", ""))
            categories.insert(0, primary.get("term", ""))
        announce = entry.findtext(f"{ARXIV_NS}announce_type")
        feed.papers.append(
            Paper(
                id=pid,
                title=title,
                authors=[a for a in authors if a],
                abstract=normalize_ws(ANNOUNCE_PREFIX_RE.sub("", _atom_text(entry, "summary"))),
                url=abs_url(pid),
                categories=[c for c in dict.fromkeys(categories) if c],
                announce_type=announce.strip() if announce and announce.strip() else None,
                source_file=path,
                source_line=lines[n - 1] if n <= len(lines) else n,
                source_format="atom",
            )
        )
    return feed


def parse_atom(text: str, path: str) -> Iterator[Paper]:
    feed = read_atom(text, path)
    if feed.error is not None:
        raise InputError(path, f"arXiv API error: {feed.error}")
    yield from feed.papers


PARSERS: dict[str, Callable[[str, str], Iterator[Paper]]] = {
    "digest-md": parse_digest_md,
    "table-md": parse_table_md,
    "jsonl": parse_jsonl,
    "json": parse_json,
    "atom": parse_atom,
}


# --------------------------------------------------------------------------- public entry points


@dataclass(frozen=True)
class InputFile:
    """A file to read. ``named``: the user named it (a bad one is an error), not found in a folder
    (a bad one is a warning, so one stray file never costs the rest of the folder)."""

    path: Path
    named: bool


SkipHandler = Callable[[InputError], None]


def _skip(problem: InputError, on_skip: SkipHandler | None) -> None:
    log.warning("skipped file %s", problem)
    if on_skip is not None:
        on_skip(problem)


def _walk(folder: Path, on_skip: SkipHandler | None) -> list[Path]:
    """Every regular file under ``folder``, recursively, sorted by path; hidden files and
    folders are skipped, and a folder reached twice (a symlink loop) is read once."""
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []

    def unreadable(exc: OSError) -> None:
        _skip(InputError(str(exc.filename or folder), f"cannot read folder ({exc.strerror or exc})"), on_skip)

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, name) for name in files if not name.startswith("."))
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(folder).parts)


ARXIV_SOURCE_PREFIX = "arxiv:"


def is_arxiv_source(item: str | Path | InputFile) -> bool:
    """``arxiv:cs.IR`` and the like: fetched, not read (a file that has such a name stays a file)."""
    if isinstance(item, InputFile):
        return False
    return str(item).lower().startswith(ARXIV_SOURCE_PREFIX) and not Path(item).exists()


def expand_paths(paths: Iterable[str | Path | InputFile], on_skip: SkipHandler | None = None) -> list[InputFile]:
    """Files named directly, plus every file (recursively, not hidden) in a named folder."""
    out: list[InputFile] = []
    for raw in paths:
        if isinstance(raw, InputFile):
            out.append(raw)
            continue
        p = Path(raw)
        if p.is_dir():
            files = _walk(p, on_skip)
            if not files:
                raise InputError(str(p), "directory contains no files")
            out.extend(InputFile(f, named=False) for f in files)
        elif not p.exists():
            raise InputError(str(p), "no such file or directory")
        else:
            out.append(InputFile(p, named=True))
    return out


def refuse_output_among_inputs(files: Iterable[InputFile], output: str | Path | None) -> None:
    """An output that is also an input would be destroyed by the run: refuse before reading."""
    if output is None or str(output) == "-":
        return
    out = Path(output)
    if not out.is_file():
        return
    for f in files:
        try:
            same = os.path.samefile(f.path, out)
        except OSError:
            continue
        if same:
            alias = "" if str(f.path) == str(output) else f" ({f.path})"
            raise InputError(str(output), f"is also an input file{alias}; choose another output file with -o")


def parse_text(text: str, path: str = "<text>", input_format: str | None = None) -> Iterator[Paper]:
    """Parse one document already in memory."""
    text = text.removeprefix("\ufeff")
    fmt = input_format or detect_format(text, path)
    if fmt not in PARSERS:
        raise InputError(path, f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
    return PARSERS[fmt](text, path)


def _plan(files: list[InputFile], input_format: str | None, on_skip: SkipHandler | None) -> list[tuple[InputFile, str]]:
    """Check every file and name its format before any paper is read: a bad file the user named
    fails the run at once; a bad file found in a folder is skipped with a warning."""
    if input_format is not None and input_format not in PARSERS:
        where = str(files[0].path) if files else "--input-format"
        raise InputError(where, f"unknown input format {input_format!r} (choose from {', '.join(FORMATS)})")
    plan: list[tuple[InputFile, str]] = []
    for f in files:
        try:
            plan.append((f, input_format or detect_format(check_file(f.path), str(f.path))))
        except InputError as problem:
            if f.named:
                raise
            _skip(problem, on_skip)
    if files and not plan:
        raise InputError(
            str(files[0].path.parent), "no readable paper files (every file was skipped, see the warnings)"
        )
    return plan


def _parse_file(path: Path, fmt: str) -> Iterator[Paper]:
    if fmt == "jsonl":
        return parse_jsonl_lines(_stream_lines(path), str(path))
    return parse_text(read_text(path), str(path), fmt)


def iter_papers(
    paths: Iterable[str | Path | InputFile],
    input_format: str | None = None,
    dedupe: bool = True,
    on_skip: SkipHandler | None = None,
) -> Iterator[Paper]:
    """Stream papers from files and folders, de-duplicated by arXiv id (first one wins).

    Every path is checked before the first paper is yielded, so a typo in the last argument
    fails the run before any work is done. Files are then parsed one at a time, and JSON
    Lines files line by line, so memory does not grow with the size of the inputs. A file in
    a folder that cannot be read as papers is skipped with a warning and reported to
    ``on_skip``; a file named in ``paths`` is an ``InputError``.
    """
    seen: dict[str, int] = {}  # id -> hash of the title, to tell a re-post from a clash
    clashes = 0
    for f, fmt in _plan(expand_paths(paths, on_skip), input_format, on_skip):
        count = 0
        try:
            for paper in _parse_file(f.path, fmt):
                count += 1
                if dedupe:
                    title = hash(paper.title.casefold())
                    if paper.id in seen:
                        clashes += seen[paper.id] != title
                        log.info(
                            "%s:%s: duplicate %s skipped (first occurrence wins)", f.path, paper.source_line, paper.id
                        )
                        continue
                    seen[paper.id] = title
                yield paper
            if count == 0:
                raise InputError(str(f.path), "no papers found (every entry was malformed or the file is truncated)")
        except InputError as problem:
            if f.named:
                raise
            _skip(problem, on_skip)
    if clashes:
        log.warning(
            "%d duplicate arXiv ids with a different title were skipped (the first occurrence wins; -v lists them)",
            clashes,
        )


def load_papers(paths: str | Path | Iterable[str | Path], input_format: str | None = None) -> list[Paper]:
    """Read papers from files or directories into a list (see ``iter_papers``)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return list(iter_papers(paths, input_format))
