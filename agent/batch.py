"""The main job as one function: input files -> papers -> agent -> output file.

The CLI's ``run`` command and Python users call the same ``triage()``. It streams papers
through the agent and rows into the writer, so memory stays flat, and it always closes the
writer, so an interrupted or failing run still leaves every finished row in the output.
"""

from __future__ import annotations

import itertools

from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from agent.outputs import make_writer
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult


def triage(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    output: str | Path | None = None,
    fmt: str = "jsonl",
    input_format: str | None = None,
    retry_errors: str | Path | None = None,
    on_result: Callable[[PaperResult], None] | None = None,
    fetch: dict[str, Any] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> RunStats:
    """Triage every paper in ``inputs`` and write results to ``output`` (stdout if None).

    An input may be an arXiv source, ``arxiv:cs.IR,cs.CL`` or ``arxiv:2510.12815``: its papers
    are fetched first (``agent.fetch``) with the options in ``fetch`` (``date``, ``since``,
    ``until``, ``cross_lists``), through the page cache unless the agent runs without a cache;
    ``on_note`` receives one line per source saying what was fetched. When every input is
    empty (a weekend's announcement) nothing is written and the stats count no papers.

    With ``retry_errors`` (a previous JSONL output), only papers that ended ``error`` or
    ``invalid`` there are sent to the backend again; the others are copied from that file, so
    the new output is complete and in input order.
    """
    stats = RunStats()
    previous: dict[str, PaperResult] = {}
    if retry_errors is not None:
        from agent.evaluate.dataset import load_results  # only needed here; keeps start-up light

        previous = {r.id: r for r in load_results(retry_errors)}
    # Read the first paper before opening the output: a typo in an input path must fail
    # before an existing output file is touched.
    from agent.fetch import iter_inputs

    options = {"settings": agent.settings, "cache": agent.cache is not None, "refresh": agent.refresh, **(fetch or {})}
    stream: Iterator[Paper] = iter_inputs(inputs, input_format, on_note=on_note, **options)
    first = next(stream, None)
    if first is None:  # only an arXiv source can be empty (an empty file is an InputError)
        return stats.finish()
    papers = itertools.chain([first] if first is not None else [], stream)
    writer = make_writer(fmt, output, agent.taxonomy, agent.notice)
    results = _merge_retry(papers, previous, agent) if previous else agent.analyze_many(papers)
    written = 0
    try:
        for result in results:
            writer.write(result)
            written += 1
            stats.add(result)
            if on_result is not None:
                on_result(result)
    except BaseException:
        # Keep what is done; but a run that failed before its first row must not replace
        # an existing output with an empty file.
        results.close()
        if written:
            writer.close()
        else:
            writer.abort()
        raise
    results.close()
    writer.close()
    return stats.finish()


def _merge_retry(
    papers: Iterator[Paper], previous: dict[str, PaperResult], agent: Agent
) -> Generator[PaperResult, None, None]:
    """Results in input order: failed ones recomputed, the rest taken from the old output."""
    todo: list[Paper] = []
    order: list[tuple[str, PaperResult | None]] = []
    for paper in papers:
        old = previous.get(paper.id)
        if old is not None and old.status not in ("error", "invalid"):
            order.append((paper.id, old))
        else:
            todo.append(paper)
            order.append((paper.id, None))
    fresh = agent.analyze_many(todo)
    try:
        for _, old in order:
            yield old if old is not None else next(fresh)
    finally:
        fresh.close()
