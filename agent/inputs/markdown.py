"""The two markdown digest formats.

- ``digest-md``: the daily-arXiv-ai-enhanced markdown digest (``### [N] [Title](abs URL)``,
  ``*authors*``, ``TL;DR:``, ``Abstract:``) and its variants (no index, ``TLDR:``, bold or quoted
  field names, ``vN`` links, hard-wrapped abstracts).
- ``table-md``: the "arXiv Daily Report" markdown table (``| Title | Link | abstract | author |``),
  where a row may run on over lines that begin with two spaces.

A malformed entry is skipped with a warning naming file and line, so one bad entry never costs
the rest of the digest; a table without a Title column is an ``InputError``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from agent.errors import InputError
from agent.inputs.text import QUOTE_RE, abs_url, arxiv_id, clean_summary, normalize_ws, split_authors
from agent.schema import Paper

log = logging.getLogger(__name__)

# A paper heading: an optional index, then the linked title; text after the link (a venue,
# "(NeurIPS 2025)") is allowed and ignored.
HEADING_RE = re.compile(r"^#{2,4}\s*(?:\[\d+\]\s*|\d+\.\s+)?\[(?P<title>.+?)\]\((?P<url>[^)\s]+)\)(?:\s+\S.*)?\s*$")
# A heading numbered like a paper entry ("### [3] ...", "### 3. ...") but without a usable link.
ENTRY_HEADING_RE = re.compile(r"^#{2,4}\s*(?:\[\d+\]|\d+\.)\s*\S")
TABLE_HEADER_RE = re.compile(r"^\|.*\btitle\b.*\|", re.IGNORECASE)


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
    """One key for the spellings digests use for the same field (TL;DR, TLDR, TL-DR, ...)."""
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
    """Authors from the first lines of an entry: ``*A, B*``, ``_A, B_`` or ``Authors: A, B``."""
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
    """Papers of a daily-arXiv digest: one per linked heading, its fields up to the next heading."""
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
MD_LINK_RE = re.compile(r"\[(.+)\]\((\S+)\)")
SEPARATOR_CELL_RE = re.compile(r"\s*:?-{2,}:?\s*")


def _split_row(line: str, strip: bool = True) -> list[str]:
    """The cells of a table row; ``strip=False`` keeps them as written, for folding a stray pipe back."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    # Split on pipes that are not escaped (\|).
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip() for c in cells] if strip else cells


def _table_header(lines: list[str], path: str) -> tuple[int, int, dict[str, int]]:
    """Where the header row is, how many columns it has, and which column holds which field."""
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
    return header_at, len(header), col


def _table_rows(lines: list[str], header_at: int, path: str) -> list[tuple[int, str]]:
    """Logical rows with their line numbers: a row continues on lines that start with whitespace."""
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
    return rows


def _row_cells(row: str, width: int, abstract_col: int | None) -> list[str] | None:
    """The stripped cells of one row, or None for the ``|---|---|`` separator."""
    cells = _split_row(row, strip=False)
    if all(SEPARATOR_CELL_RE.fullmatch(c) for c in cells if c.strip()):
        return None
    if len(cells) > width and abstract_col is not None:
        # A stray "|" inside the abstract (LaTeX |x|): fold the extra cells back into it,
        # exactly as written.
        extra = len(cells) - width
        merged = "|".join(cells[abstract_col : abstract_col + extra + 1])
        cells = cells[:abstract_col] + [merged] + cells[abstract_col + extra + 1 :]
    return [c.strip() for c in cells]


def _row_paper(cells: list[str], col: dict[str, int], path: str, lineno: int) -> Paper | None:
    """The paper in one full-width row, or None (with a warning) when it has no id or title."""
    # The id comes from the Link column, or from a link in the title cell
    # ("| [Title](https://arxiv.org/abs/ID) | ..."), or from any cell that has one.
    link_cells = [cells[col["link"]]] if "link" in col else []
    pid = next((i for i in map(arxiv_id, [*link_cells, cells[col["title"]], *cells]) if i), None)
    if pid is None:
        log.warning("%s:%d: skipped row: no arXiv link or id", path, lineno)
        return None
    title = normalize_ws(cells[col["title"]])
    linked = MD_LINK_RE.fullmatch(title)
    if linked:
        title = linked.group(1).strip()
    if not title:
        log.warning("%s:%d: skipped row: empty title", path, lineno)
        return None
    abstract_col = col.get("abstract")
    return Paper(
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


def parse_table_md(text: str, path: str) -> Iterator[Paper]:
    """Papers of an "arXiv Daily Report" table: one per row, columns found by their header names."""
    lines = text.split("\n")
    header_at, width, col = _table_header(lines, path)
    for lineno, row in _table_rows(lines, header_at, path):
        cells = _row_cells(row, width, col.get("abstract"))
        if cells is None:
            continue
        if len(cells) != width:
            log.warning("%s:%d: skipped row: %d cells, expected %d", path, lineno, len(cells), width)
            continue
        paper = _row_paper(cells, col, path, lineno)
        if paper is not None:
            yield paper
