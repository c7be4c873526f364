"""Batch-API jobs: submit, status, list, cancel, wait, and ``run --batch`` (all of them in a row).

``batch_submit`` splits the requests at the API limits (50,000 lines, 200 MB); each request
file is written with its manifest and a local record *before* it is uploaded, the record is
updated after the upload and after the batch is created, and the batch carries the local id
in its metadata, so a crash at any point loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.base import BatchCapable
from agent.bulk.api import BatchAPI, api_for, reconcile, refresh
from agent.bulk.collect import (
    CollectReport,
    Outcome,
    collect_files,
    ingest,
    missing_reason,
    needs_repair,
    repair_online,
    write_results,
)
from agent.bulk.manifest import (
    MAX_BYTES,
    MAX_LINES,
    BuildCounts,
    FilePair,
    Manifest,
    batch_backend,
    manifest_header,
    request_lines,
    utc_now,
)
from agent.bulk.records import TERMINAL, BatchRecord, RecordStore
from agent.errors import BatchError, ConfigError, PaperAgentError
from agent.inputs import Inputs, read_inputs, refuse_output_among_inputs
from agent.outputs import resolve_format
from agent.pipeline import Agent
from agent.schema import Paper, PaperResult
from agent.settings import Settings

Line = tuple[str, str, Paper, bytes]  # custom_id, cache key, paper, request line


@dataclass
class SubmitReport:
    """The batches one submit created, and what happened to every input paper."""

    records: list[BatchRecord]
    counts: BuildCounts
    # Open batches an earlier submit left holding some of these papers (``counts.pending``).
    attached: list[BatchRecord] = field(default_factory=list)

    @property
    def batch_ids(self) -> list[str]:
        return [r.batch_id or r.local_id for r in self.records]


# ---------------------------------------------------------------------------- submit


def batch_submit(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    input_format: str | None = None,
    max_per_batch: int | None = None,
    max_bytes: int = MAX_BYTES,
    api: BatchAPI | None = None,
) -> SubmitReport:
    """Build, upload and create Batch-API jobs for every paper in ``inputs`` not already cached.

    Papers already in an open (running or uncollected) batch are not sent again.
    """
    inputs = list(inputs)
    return _submit(
        _read_papers(inputs, input_format, agent).papers,
        inputs,
        agent,
        max_per_batch=max_per_batch,
        max_bytes=max_bytes,
        api=api,
    )


def _submit(
    papers: Iterable[Paper],
    inputs: list[str | Path],
    agent: Agent,
    *,
    max_per_batch: int | None,
    max_bytes: int,
    api: BatchAPI | None,
) -> SubmitReport:
    backend = batch_backend(agent)
    if agent.settings.api_key is None and agent.settings.base_url is None:
        raise ConfigError(
            "no Batch API endpoint configured: set OPENAI_API_KEY (or OPENAI_BASE_URL for another service)"
        )
    limit = min(max_per_batch or MAX_LINES, MAX_LINES)
    if limit < 1:
        raise ConfigError("--max-papers-per-batch must be at least 1")
    store = RecordStore(agent.settings.cache_dir)
    api = api or BatchAPI(agent.settings, backend.base_url)
    reconcile(store.all(), agent.settings, api)  # a batch created by a run that died is still open
    counts = BuildCounts()
    open_batches = store.pending_batches()
    held: set[str] = set()
    lines = request_lines(agent, papers, counts, set(open_batches), held)
    fields = _record_fields(agent, backend, [str(Path(p).resolve()) for p in inputs])
    records: list[BatchRecord] = []
    pending = next(lines, None)
    while pending is not None:
        record = store.new(**fields)
        pending = _write_batch(record, agent, pending, lines, limit, max_bytes)
        counts.requests += record.requests
        counts.bytes += record.bytes
        _send(record, api)
        records.append(record)
    attached = {open_batches[key].local_id: open_batches[key] for key in held}  # ``lines`` is consumed
    return SubmitReport(records, counts, sorted(attached.values(), key=lambda r: r.created_ts))


def _record_fields(agent: Agent, backend: BatchCapable, sources: list[str]) -> dict[str, Any]:
    """What every record of one submit starts with."""
    price = backend.price.batch() if backend.price is not None else None
    return {
        "status": "built",
        "inputs": sources,
        "model": backend.model,
        "base_url": backend.public_base_url,
        "mode": agent.settings.mode,
        "batch_price": (price.input, price.output) if price else None,
    }


def _write_batch(
    record: BatchRecord, agent: Agent, first: Line, lines: Iterator[Line], limit: int, max_bytes: int
) -> Line | None:
    """Write the record's request file and manifest from ``first`` on, up to the limits; save the
    record (before anything leaves the machine). Returns the first line that did not fit."""
    pair = FilePair(record.requests_path, record.manifest_path, manifest_header(agent, local_id=record.local_id))
    pending: Line | None = first
    try:
        while (
            pending is not None and pair.lines < limit and (not pair.lines or pair.bytes + len(pending[3]) <= max_bytes)
        ):
            pair.add(*pending)
            pending = next(lines, None)
        pair.close()
    except BaseException:
        pair.abort()
        raise
    record.requests, record.bytes, record.est_prompt_tokens = pair.lines, pair.bytes, pair.est_prompt_tokens
    record.save()
    return pending


def _send(record: BatchRecord, api: BatchAPI) -> None:
    """Upload the request file and create the batch, saving the record after each step."""
    try:
        record.input_file_id = api.upload(record.requests_path)
        record.status = "uploaded"
        record.save()
        batch = api.create(record.input_file_id, {"paper_agent_id": record.local_id})
    except (PaperAgentError, KeyboardInterrupt) as exc:
        # A failed create may still have created the batch (a timeout after the server
        # acted): the record stays "uploaded" until `batch list` / the next submit looks.
        record.status = "uploaded" if record.status == "uploaded" else "not_submitted"
        record.error = str(exc) or exc.__class__.__name__
        record.save()
        raise
    record.batch_id = batch["id"]
    record.update_from(batch)
    record.save()


# ---------------------------------------------------------------------------- status, list, cancel


def batch_status(
    ids: Iterable[str] = (), *, settings: Settings | None = None, api: BatchAPI | None = None
) -> list[BatchRecord]:
    """The named batches (default: every one not yet collected), refreshed from the API while running."""
    settings = settings or Settings()
    store = RecordStore(settings.cache_dir)
    ids = list(ids)
    records = [store.find(i) for i in ids] if ids else [r for r in store.all() if not r.collected_at]
    return [refresh(r, settings, api) for r in records]


def batch_list(*, settings: Settings | None = None, api: BatchAPI | None = None) -> list[BatchRecord]:
    """Every local record, refreshed; a batch created but never recorded (a crash) is found by its metadata."""
    settings = settings or Settings()
    records = RecordStore(settings.cache_dir).all()
    reconcile(records, settings, api)
    return [refresh(r, settings, api) for r in records]


def batch_cancel(ident: str, *, settings: Settings | None = None, api: BatchAPI | None = None) -> BatchRecord:
    """Ask the API to cancel a batch; what finished before stays collectable."""
    settings = settings or Settings()
    record = RecordStore(settings.cache_dir).find(ident)
    if not record.batch_id:
        raise BatchError(f"batch {ident} was never submitted: nothing to cancel")
    record.update_from(api_for(record, settings, api).cancel(record.batch_id))
    record.save()
    return record


# ---------------------------------------------------------------------------- run --batch


def batch_wait(
    records: list[BatchRecord],
    *,
    settings: Settings,
    poll: float = 30.0,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[int, int, list[BatchRecord]], None] | None = None,
) -> list[BatchRecord]:
    """Poll until every batch is completed, failed, expired or cancelled."""
    while True:
        records = [refresh(r, settings, api) for r in records]
        done = sum(r.counts.get("completed", 0) + r.counts.get("failed", 0) for r in records)
        total = sum(r.counts.get("total", 0) or r.requests for r in records)
        if on_progress is not None:
            on_progress(done, total, records)
        if all(r.status in TERMINAL for r in records):
            return records
        sleep(poll)


def _read_papers(
    inputs: list[str | Path],
    input_format: str | None,
    agent: Agent,
    fetch: dict[str, Any] | None = None,
    *,
    refresh: bool = False,
) -> Inputs:
    """The papers of ``inputs``, read exactly as ``run`` reads them (``agent.inputs.read_inputs``):
    files, folders and ``arxiv:`` sources, with ``run``'s arXiv options in ``fetch`` (``date``,
    ``since``, ``until``, ``cross_lists``). ``triage_batch`` reads its inputs three times
    (submit, repair, write); fetched pages come from the page cache after the first, so only
    the first read passes ``refresh``."""
    return read_inputs(
        inputs,
        input_format,
        fetch_options=fetch,
        settings=agent.settings,
        cache=agent.cache is not None,
        refresh=refresh,
    )


def triage_batch(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    output: str | Path | None = None,
    fmt: str | None = None,
    input_format: str | None = None,
    fetch: dict[str, Any] | None = None,
    poll: float = 30.0,
    repair: bool = False,
    max_per_batch: int | None = None,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_submit: Callable[[SubmitReport], None] | None = None,
    on_progress: Callable[[int, int, list[BatchRecord]], None] | None = None,
) -> CollectReport:
    """``paper-agent run --batch``: submit the uncached papers, wait, collect, write all results in input order.

    With ``agent.refresh`` cached papers are submitted too and their new results replace the
    cached ones. ``fetch``: ``run``'s arXiv options for ``arxiv:`` inputs (see ``_read_papers``).
    """
    inputs = list(inputs)
    report = CollectReport()  # its clock starts now: the summary's elapsed time is the whole run
    # The same checks as ``run`` before anything is sent (and paid for): the arXiv options, the
    # format, and an output that is also an input.
    read = _read_papers(inputs, input_format, agent, fetch, refresh=agent.refresh)
    resolve_format(fmt, output)
    refuse_output_among_inputs(read.files, output)
    submitted = _submit(read.papers, inputs, agent, max_per_batch=max_per_batch, max_bytes=MAX_BYTES, api=api)
    if on_submit is not None:
        on_submit(submitted)
    # Papers an interrupted earlier run submitted are waited for and collected, not resubmitted.
    waiting = submitted.records + submitted.attached
    records = batch_wait(waiting, settings=agent.settings, poll=poll, api=api, sleep=sleep, on_progress=on_progress)
    report.records = records
    outcomes: dict[str, Outcome] = {}
    reasons = _collect_into(agent, records, api, outcomes, report)
    _refuse_failed(records)
    repaired: dict[str, PaperResult] = {}
    if repair:
        repaired = _repair(agent, _read_papers(inputs, input_format, agent, fetch).papers, reasons, outcomes)
        report.repaired = len(repaired)

    def items() -> Iterator[tuple[str, Paper, Outcome | None, str]]:
        for paper in _read_papers(inputs, input_format, agent, fetch).papers:
            key = agent.cache_key(paper)
            skipped = agent.skip_reason(paper)
            if skipped is not None:
                yield key, paper, Outcome("skipped", skipped), ""
            else:
                yield key, paper, outcomes.get(key), reasons.get(key, "not submitted: already in another open batch")

    write_results(agent, items(), repaired, output, fmt, report)
    if not report.problems:
        report.notes.clear()  # "papers without a result ... or --repair": none is left
    report.stats.finish()
    return report


def _repair(
    agent: Agent, papers: Iterable[Paper], reasons: dict[str, str], outcomes: dict[str, Outcome]
) -> dict[str, PaperResult]:
    """``--repair``: the submitted papers without a usable result, re-asked online (by cache key)."""
    todo = [(agent.cache_key(p), p) for p in papers if agent.skip_reason(p) is None]
    return repair_online(agent, [(k, p) for k, p in todo if k in reasons and needs_repair(agent, k, outcomes.get(k))])


def _refuse_failed(records: list[BatchRecord]) -> None:
    """A batch the API rejected as a whole (nothing ran) makes the run an error: an output
    listing every paper as an error would look like a finished run."""
    failed = [r for r in records if r.status == "failed"]
    if failed:
        r = failed[0]
        why = "; ".join(e.describe() for e in r.errors) or "no reason given"
        raise BatchError(
            f"batch {r.batch_id or r.local_id} failed before running ({why}); nothing written: "
            "fix the problem and run the same command again (finished papers are cached)"
        )


def _collect_into(
    agent: Agent,
    records: list[BatchRecord],
    api: BatchAPI | None,
    outcomes: dict[str, Outcome],
    report: CollectReport,
) -> dict[str, str]:
    """Read the finished batches' results into ``outcomes`` and the cache; mark them collected.

    Returns, by cache key of every submitted paper, the error it gets if it has no result.
    """
    reasons: dict[str, str] = {}
    for record in records:
        manifest = Manifest(record.manifest_path)
        ingest(agent, manifest, collect_files(record, agent.settings, api), outcomes)
        for key in manifest.keys():
            reasons[key] = missing_reason(record)
        record.collected_at = record.collected_at or utc_now()
        record.save()
        note = record.next_step()
        if note:
            report.notes.append(note)
    return reasons
