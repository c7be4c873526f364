"""The main job as one function: input files -> papers -> agent -> output file.

The CLI's ``run`` command and Python users call the same ``triage()``. It streams papers
through the agent and rows into the writer, so memory stays flat. A complete run renames the
output into place; an interrupted or failing one keeps every finished row in
``<output>.partial`` (and in the cache), and never publishes a partial output under the final name.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

from agent.errors import ConfigError
from agent.inputs import read_inputs, refuse_output_among_inputs
from agent.outputs import Coverage, ResultWriter, describe_fetch, load_results, make_writer, resolve_format
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult
from agent.taxonomy import Taxonomy

Keep = Callable[[PaperResult], bool]


def triage(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    output: str | Path | None = None,
    fmt: str | None = None,
    input_format: str | None = None,
    retry_errors: str | Path | None = None,
    on_result: Callable[[PaperResult], None] | None = None,
    fetch: dict[str, Any] | None = None,
    on_note: Callable[[str], None] | None = None,
    only: Iterable[str] | None = None,
    min_confidence: float | None = None,
) -> RunStats:
    """Triage every paper in ``inputs`` and write results to ``output`` (stdout if None).

    ``fmt`` is ``jsonl``, ``csv``, ``md`` or ``html``; ``None`` infers it from ``output``'s extension.

    An input may be an arXiv source, ``arxiv:cs.IR,cs.CL`` or ``arxiv:2510.12815``: its papers
    are fetched first (``agent.inputs.arxiv``) with the options in ``fetch`` (``date``, ``since``,
    ``until``, ``cross_lists``), through the page cache unless the agent runs without a cache;
    ``on_note`` receives one line per source saying what was fetched. When every input is
    empty (a weekend's announcement) nothing is written and the stats count no papers.

    With ``retry_errors`` (a previous JSONL output), only papers that ended ``error`` or
    ``invalid`` there are sent to the backend again; the others are copied from that file, so
    the new output is complete and in input order. A file in an input folder that holds no
    papers is skipped with a warning (``stats.skipped_files``). A run that does not complete
    leaves its rows in ``<output>.partial``, never under the final name.

    ``only`` (labels) and ``min_confidence`` filter what is written, in every format (see
    ``result_filter``); left-out papers are still triaged and cached (``stats.left_out``).
    """
    stats = RunStats()
    # Everything a user can get wrong is checked before any input is read or output touched.
    fmt = resolve_format(fmt, output)
    keep, filters = result_filter(agent.taxonomy, only, min_confidence)
    read = read_inputs(
        inputs,
        input_format,
        fetch_options=fetch,
        settings=agent.settings,
        cache=agent.cache is not None,
        refresh=agent.refresh,
        on_note=on_note,
        on_skip=stats.skip_file,
    )
    refuse_output_among_inputs(read.files, output)
    previous = {r.id: r for r in load_results(retry_errors)} if retry_errors is not None else {}
    # Read the first paper before opening the output: a typo in an input path must fail
    # before an existing output file is touched.
    first = next(read.papers, None)
    if first is None and read.sources:  # an arXiv day can be empty (a weekend); an empty file is an InputError
        return stats.finish()
    coverage = Coverage(fetched=describe_fetch(read.sources, fetch), filters=filters)
    papers = coverage.track(itertools.chain([first] if first is not None else [], read.papers))
    writer = make_writer(fmt, output, agent.taxonomy, agent.notice, coverage)
    results = _merge_retry(papers, previous, agent) if previous else _fresh(agent.analyze_many(papers))
    _write_all(results, writer, stats, on_result, keep, coverage)
    return stats.finish()


def result_filter(
    taxonomy: Taxonomy, only: Iterable[str] | None, min_confidence: float | None
) -> tuple[Keep | None, list[str]]:
    """The ``--only``/``--min-confidence`` test for a result (None: keep all) and a description
    of each filter for the digest header. A triaged paper is kept when its primary label is in
    ``only`` and its confidence is at least ``min_confidence``; papers not triaged (error,
    invalid, skipped) are always kept, so a filter never hides a failure from ``--retry-errors``.
    Unknown labels and a confidence outside 0..1 are a ``ConfigError`` naming the option."""
    items = [only] if isinstance(only, str) else list(only or [])
    labels = [x.strip() for item in items for x in str(item).split(",") if x.strip()]
    unknown = [x for x in labels if x not in taxonomy.names]
    if unknown:
        raise ConfigError(f"--only {','.join(unknown)}: not a label (choose from {', '.join(taxonomy.names)})")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise ConfigError(f"--min-confidence {min_confidence}: must be between 0 and 1")
    filters = ([f"--only {','.join(labels)}"] if labels else []) + (
        [f"--min-confidence {min_confidence:g}"] if min_confidence is not None else []
    )
    if not filters:
        return None, []
    wanted = set(labels) or set(taxonomy.names)
    floor = min_confidence or 0.0

    def keep(result: PaperResult) -> bool:
        return result.status != "ok" or (result.primary in wanted and result.confidence >= floor)

    return keep, filters


def _write_all(
    results: Generator[tuple[PaperResult, bool], None, None],
    writer: ResultWriter,
    stats: RunStats,
    on_result: Callable[[PaperResult], None] | None,
    keep: Keep | None = None,
    coverage: Coverage | None = None,
) -> None:
    """Write every result as it arrives (those ``keep`` refuses are only counted); publish the
    output only when all of them are written."""
    written = 0
    try:
        for result, reused in results:
            stats.add(result, reused=reused)
            if keep is None or keep(result):
                writer.write(result)
                written += 1
            else:
                stats.left_out += 1
                if coverage is not None:
                    coverage.left_out += 1
            if on_result is not None:
                on_result(result)
    except BaseException:
        # Keep what is done in the partial file; a run that failed before its first row
        # leaves nothing behind. Either way an existing output is left as it was.
        results.close()
        if written:
            writer.fail()
        else:
            writer.abort()
        raise
    results.close()
    writer.close()


def _fresh(results: Iterator[PaperResult]) -> Generator[tuple[PaperResult, bool], None, None]:
    """Results computed (or served from the cache) in this run: none is reused."""
    try:
        for result in results:
            yield result, False
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()


def _merge_retry(
    papers: Iterator[Paper], previous: dict[str, PaperResult], agent: Agent
) -> Generator[tuple[PaperResult, bool], None, None]:
    """Results in input order: failed ones recomputed, the rest taken from the old output
    (flagged as reused, so the summary does not count their old cost as spent again)."""
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
            yield (old, True) if old is not None else (next(fresh), False)
    finally:
        fresh.close()
