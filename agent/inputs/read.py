"""The one way in: a list of inputs (files, folders, ``arxiv:`` sources) -> papers.

``read_inputs`` is what ``triage`` (and the Batch API path) calls. It does the cheap checks at
once (a dated fetch option with no ``arxiv:`` source, a missing path, an empty folder) and
returns the expanded file list, so the caller can refuse an output that is also an input
before anything is read, together with a lazy stream of papers. On the first ``next`` of that
stream every file is checked and every source fetched, so a typo or an unreachable arXiv
fails the run before any output is written. httpx is imported only when a source is given.

``iter_papers`` and ``load_papers`` read files and folders only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, InputError
from agent.inputs.files import (
    InputFile,
    SkipHandler,
    check_file,
    expand_paths,
    is_arxiv_source,
    read_text,
    report_skip,
    stream_lines,
)
from agent.inputs.formats import PARSERS, detect_format, parse_text, unknown_format
from agent.inputs.jsonl import parse_jsonl_lines
from agent.schema import Paper
from agent.settings import Settings

log = logging.getLogger(__name__)

DATED_OPTIONS = ("date", "since", "until")


# --------------------------------------------------------------------------- files and folders


def _plan(files: list[InputFile], input_format: str | None, on_skip: SkipHandler | None) -> list[tuple[InputFile, str]]:
    """Check every file and name its format before any paper is read: a bad file the user named
    fails the run at once; a bad file found in a folder is skipped with a warning."""
    if input_format is not None and input_format not in PARSERS:
        raise unknown_format(str(files[0].path) if files else "--input-format", input_format)
    plan: list[tuple[InputFile, str]] = []
    for f in files:
        try:
            plan.append((f, input_format or detect_format(check_file(f.path), str(f.path))))
        except InputError as problem:
            if f.named:
                raise
            report_skip(problem, on_skip)
    if files and not plan:
        raise InputError(
            str(files[0].path.parent), "no readable paper files (every file was skipped, see the warnings)"
        )
    return plan


def _parse_file(path: Path, fmt: str) -> Iterator[Paper]:
    """Papers of one file; JSON Lines streamed line by line, the other formats read whole."""
    if fmt == "jsonl":
        return parse_jsonl_lines(stream_lines(path), str(path))
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
            report_skip(problem, on_skip)
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


# --------------------------------------------------------------------------- every kind of input


@dataclass
class Inputs:
    """What ``read_inputs`` found: the files it will read, the ``arxiv:`` sources it will fetch,
    and the papers of both (a lazy stream: nothing is read or fetched before its first ``next``).

    ``files`` is there for ``refuse_output_among_inputs``. ``sources`` tells an empty stream
    apart: with a source it is an arXiv day with no announcement (a weekend), not an error.
    """

    files: list[InputFile]
    sources: list[str]
    papers: Iterator[Paper] = field(repr=False)


def read_inputs(
    inputs: Iterable[str | Path],
    input_format: str | None = None,
    *,
    fetch_options: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
    cache: bool = True,
    refresh: bool = False,
    on_note: Callable[[str], None] | None = None,
    on_skip: SkipHandler | None = None,
) -> Inputs:
    """Papers from files, folders and ``arxiv:`` sources (``arxiv:cs.IR,cs.CL``, ``arxiv:2510.12815``).

    ``fetch_options`` (``date``, ``since``, ``until``, ``cross_lists``) go to
    ``agent.inputs.arxiv.fetch`` for every source, with ``settings``, ``cache`` (use the page
    cache) and ``refresh``; a dated option with no source is a ``ConfigError``. ``on_note``
    receives one line per source saying what was fetched; ``on_skip`` each file left out.
    Papers come in input order, de-duplicated by arXiv id (the first one wins).
    """
    items = list(inputs)
    sources = [str(i) for i in items if is_arxiv_source(i)]
    dated = [k for k in DATED_OPTIONS if (fetch_options or {}).get(k)]
    if dated and not sources:
        raise ConfigError(f"--{dated[0]} applies to arxiv: inputs (e.g. arxiv:cs.IR), and none was given")
    if not sources:
        files = expand_paths(items, on_skip)
        return Inputs(files, [], iter_papers(files, input_format, on_skip=on_skip))
    # Each file input expanded on its own: the papers keep the order of the inputs.
    groups = [None if is_arxiv_source(i) else expand_paths([i], on_skip) for i in items]
    options = {"settings": settings, "cache": cache, "refresh": refresh, **(fetch_options or {})}
    papers = _with_sources(items, groups, input_format, options, on_note, on_skip)
    return Inputs([f for group in groups if group for f in group], sources, papers)


def _with_sources(
    items: list[str | Path],
    groups: list[list[InputFile] | None],
    input_format: str | None,
    options: dict[str, Any],
    on_note: Callable[[str], None] | None,
    on_skip: SkipHandler | None,
) -> Iterator[Paper]:
    """Files and fetched sources in input order. Before the first paper: every source parsed,
    every named file checked, every source fetched (a bad file in a folder is a warning later)."""
    from agent.inputs.arxiv import fetch, parse_source  # imports httpx: only when arXiv is asked for

    parsed = [parse_source(i) if group is None else None for i, group in zip(items, groups)]
    for group in groups:
        for f in group or []:
            if f.named:
                check_file(f.path)
    fetched: dict[int, list[Paper]] = {}
    for n, source in enumerate(parsed):
        if source is not None:
            cats, ids = source
            dated = {k: v for k, v in options.items() if not (ids and k in DATED_OPTIONS)}
            result = fetch(cats or None, ids=ids or None, **dated)
            if on_note is not None:
                on_note(result.summary())
            fetched[n] = result.papers
    seen: set[str] = set()
    for n, group in enumerate(groups):
        papers = fetched[n] if group is None else iter_papers(group, input_format, dedupe=False, on_skip=on_skip)
        for paper in papers:
            if paper.id in seen:
                continue
            seen.add(paper.id)
            yield paper
