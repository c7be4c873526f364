"""JSON records: JSON Lines (``jsonl``) and a JSON array of objects (``json``).

Either our own ``Paper`` records or the records daily-arXiv-ai-enhanced writes (``id, title,
authors, summary, categories, abs, AI{tldr}``). A line that is not a JSON object, or a record
without an id or title, is skipped with a warning naming file and line; a ``json`` file that
does not parse at all is an ``InputError``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from agent.errors import InputError
from agent.inputs.text import abs_url, arxiv_id, clean_summary, normalize_ws, split_authors
from agent.schema import Paper

log = logging.getLogger(__name__)


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
    """Papers of a JSON Lines document already in memory."""
    return parse_jsonl_lines(enumerate(text.split("\n"), start=1), path)


def parse_jsonl_lines(lines: Iterable[tuple[int, str]], path: str) -> Iterator[Paper]:
    """Papers from numbered lines, so a file can be streamed line by line (``files.stream_lines``)."""
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
    """Papers of a JSON array of records (or an object whose ``papers`` is one)."""
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
