"""Results back into the cache: collect finished batches, and export / import request files.

A results file is read whatever its state (any order, lines missing, repeated or broken,
unknown ids): every paper of a request file ends ``ok``, ``invalid`` or ``error``, exactly
once. Replies are validated by the backend's ``parse_reply`` (the online response model and
validators) and stored in the same cache as online results, so a later ``paper-agent run`` on
those papers is free. A cached result is never rewritten (unless the agent refreshes), so
collecting twice changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.base import Analysis, InvalidOutput
from agent.bulk.api import BatchAPI, api_for, refresh
from agent.bulk.manifest import (
    BuildCounts,
    FilePair,
    Manifest,
    batch_backend,
    manifest_header,
    manifest_path_for,
    request_lines,
    utc_now,
)
from agent.bulk.records import TERMINAL, BatchRecord, RecordStore
from agent.cache import ResultCache
from agent.errors import BatchError, BatchNotReady, ConfigError
from agent.inputs import InputFile, read_inputs, refuse_output_among_inputs
from agent.outputs import make_writer
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult, Usage
from agent.settings import Settings

log = logging.getLogger("agent.bulk")


@dataclass
class Outcome:
    """What a results file said about one request (by cache key)."""

    status: str  # ok | invalid | error | skipped
    error: str | None = None
    usage: Usage | None = None
    earlier: bool = False  # its batch was collected before: that collect counted (and costed) it


@dataclass
class CollectReport:
    """What a collect or import did: counts, the papers that failed and why, next steps."""

    stats: RunStats = field(default_factory=RunStats)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (paper id, status, reason)
    notes: list[str] = field(default_factory=list)
    records: list[BatchRecord] = field(default_factory=list)
    repaired: int = 0


@dataclass
class ExportReport:
    """The request file and manifest ``batch_export`` wrote, and what went into them."""

    requests: Path
    manifest: Path
    counts: BuildCounts


# ---------------------------------------------------------------------------- results -> cache


@dataclass
class _FileTally:
    """What one results file held besides usable lines: warned about once per kind, not per line
    (a wrong file would otherwise print one identical warning per request)."""

    lines: int = 0
    broken: list[int] = field(default_factory=list)  # line numbers that are not JSON objects
    unknown: list[tuple[int, object]] = field(default_factory=list)  # (line, custom_id) not in the manifest
    conflicts: list[tuple[int, str]] = field(default_factory=list)  # (line, custom_id) answered again, differently

    def warn(self, path: Path, manifest: Manifest) -> None:
        if not self.lines:
            log.warning("%s: the results file has no result lines: every request in it gets an error", path)
        if self.broken:
            log.warning("%s: %s not a JSON object: skipped", path, _lines_summary(self.broken))
        if self.unknown:
            first_line, first_id = self.unknown[0]
            log.warning(
                "%s: %d line(s) with a custom_id not in %s skipped (first: line %d, %r)%s",
                path,
                len(self.unknown),
                manifest.path.name,
                first_line,
                first_id,
                " - is this the results file of another request file?" if len(self.unknown) == self.lines else "",
            )
        for lineno, custom_id in self.conflicts[:5]:
            log.warning(
                "%s:%d: custom_id %r answered again, differently: the first reply is kept", path, lineno, custom_id
            )
        if len(self.conflicts) > 5:
            log.warning("%s: ... and %d more custom_ids answered twice differently", path, len(self.conflicts) - 5)


def _lines_summary(numbers: list[int]) -> str:
    head = ", ".join(str(n) for n in numbers[:5])
    return (
        f"line {head} is"
        if len(numbers) == 1
        else f"{len(numbers)} lines ({head}{', ...' if len(numbers) > 5 else ''}) are"
    )


def _read_results(path: Path, tally: _FileTally) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise BatchError(f"{path}: cannot read the results file ({exc.strerror or exc})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            tally.lines += 1
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError
            except ValueError:
                tally.broken.append(lineno)
                continue
            yield lineno, line


def _answer(line: dict[str, Any]) -> str:
    """What a reply says (its choices), to tell a repeated line from a conflicting one."""
    body = (line.get("response") or {}).get("body")
    choices = body.get("choices") if isinstance(body, dict) else None
    return json.dumps(choices, sort_keys=True, default=str)


def _line_error(line: dict[str, Any]) -> str | None:
    """None for a 200 response, else the reason the engine gives."""
    response = line.get("response") or {}
    error = line.get("error")
    if isinstance(error, dict) and (error.get("message") or error.get("code")):
        return f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    if error:
        return str(error)
    status = response.get("status_code")
    if status == 200 and isinstance(response.get("body"), dict):
        return None
    raw_body = response.get("body")
    body: dict[str, Any] = raw_body if isinstance(raw_body, dict) else {}
    raw_error = body.get("error")
    inner: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    return f"HTTP {status}: {inner.get('message') or 'no reply body'}" if status else "no response in the result line"


def _is_ok(outcome: Outcome | None) -> bool:
    return outcome is not None and outcome.status == "ok"


def ingest(agent: Agent, manifest: Manifest, files: Iterable[Path], outcomes: dict[str, Outcome]) -> None:
    """Read result lines into ``outcomes`` (by cache key) and ok results into the cache.

    Lines may come in any order, repeat, or name unknown ids; an ``ok`` outcome is final, and a
    key already in the cache is never rewritten (collecting twice changes nothing) unless the
    agent refreshes (``run --batch --refresh``: these results are the ones asked for).
    """
    from agent.redaction import redact

    backend = batch_backend(agent)
    price = backend.price.batch() if backend.price is not None else None
    secret = agent.settings.api_key.get_secret_value() if agent.settings.api_key else None
    answers: dict[str, str] = {}  # custom_id -> the reply kept for it
    for path in files:
        tally = _FileTally()
        for lineno, line in _read_results(path, tally):
            custom_id = line.get("custom_id")
            if not isinstance(custom_id, str) or custom_id not in manifest:
                tally.unknown.append((lineno, custom_id))
                continue
            key = manifest.key(custom_id)
            known = outcomes.get(key)
            if _is_ok(known):
                if _line_error(line) is None and answers.get(custom_id) != _answer(line):
                    tally.conflicts.append((lineno, custom_id))
                continue
            problem = _line_error(line)
            if problem is not None:
                if known is None:
                    outcomes[key] = Outcome("error", redact(f"batch: {problem}", secret)[:500])
                continue
            paper = manifest.paper(custom_id)
            try:
                analysis = backend.parse_reply(paper, line["response"]["body"], price)
            except InvalidOutput as bad:
                outcomes[key] = Outcome("invalid", f"batch: {bad}", bad.usage)
                continue
            outcomes[key] = Outcome("ok", usage=analysis.usage)
            answers[custom_id] = _answer(line)
            _store(agent, key, paper, analysis)
        tally.warn(path, manifest)


def _store(agent: Agent, key: str, paper: Paper, analysis: Analysis) -> None:
    """An ok reply into the cache, unless a result is there already (and the agent does not refresh)."""
    if agent.refresh or _cache(agent).get(key) is None:
        result = agent.result_of(paper, analysis)
        _cache(agent).set(key, result, analysis.attempts, agent.key_components)


def needs_repair(agent: Agent, key: str, outcome: Outcome | None) -> bool:
    """No ok reply in this batch and nothing usable in the cache: ``--repair`` asks it online."""
    return not _is_ok(outcome) and (agent.refresh or _cache(agent).get(key) is None)


def _cache(agent: Agent) -> ResultCache:
    """The agent's result cache; bulk jobs refuse an agent without one (``batch_backend``)."""
    if agent.cache is None:
        raise ConfigError("bulk triage stores its results in the cache: drop --no-cache")
    return agent.cache


def _unanswered(agent: Agent, manifest: Manifest, outcomes: dict[str, Outcome]) -> list[tuple[str, Paper]]:
    return [(key, paper) for _, key, paper in manifest if needs_repair(agent, key, outcomes.get(key))]


def repair_online(agent: Agent, papers: list[tuple[str, Paper]]) -> dict[str, PaperResult]:
    """Re-ask failed papers online (normal retries and validation re-asks), by cache key."""
    if not papers:
        return {}
    return {key: result for (key, _), result in zip(papers, agent.analyze_many([p for _, p in papers]))}


def _result_for(
    agent: Agent, paper: Paper, key: str, outcome: Outcome | None, missing: str, repaired: dict[str, PaperResult]
) -> PaperResult:
    if outcome is not None and outcome.status == "skipped":
        return agent.result_for(paper, status="skipped", error=outcome.error)
    if key in repaired:
        return repaired[key]
    answered = _is_ok(outcome)
    # Refreshing, an older cached result is not an answer: only this batch's own is.
    hit = agent.from_cache(paper, key) if answered or not agent.refresh else None
    if hit is not None:
        hit.cached = not answered  # this batch's own results are new
        return hit
    if outcome is None:
        return agent.result_for(paper, status="error", error=missing)
    return agent.result_for(paper, status=outcome.status, error=outcome.error, usage=outcome.usage or Usage())


def missing_reason(record: BatchRecord | None) -> str:
    """The error of a paper its batch has no result line for."""
    if record is None:
        return "no result line for this request in the results file"
    if record.status == "failed":
        return f"batch {record.batch_id} failed before running: " + record.failure_reason()
    return f"batch {record.batch_id} {record.status}: no result for this request"


def write_results(
    agent: Agent,
    items: Iterable[tuple[str, Paper, Outcome | None, str]],
    repaired: dict[str, PaperResult],
    output: str | Path | None,
    fmt: str | None,
    report: CollectReport,
) -> None:
    """One row per (key, paper, outcome, reason if missing), written like ``run`` writes them."""
    writer = make_writer(fmt, output, agent.taxonomy, None)
    try:
        for key, paper, outcome, missing in items:
            result = _result_for(agent, paper, key, outcome, missing, repaired)
            writer.write(result)
            # Rows stay as the first collect wrote them; the summary counts only what is new.
            again = outcome is not None and outcome.earlier and key not in repaired
            report.stats.add(result.model_copy(update={"cached": True}) if again else result)
            if result.status in ("invalid", "error"):
                report.problems.append((paper.id, result.status, result.error or ""))
    except BaseException:
        # Like ``run``: an unfinished output is never published under its final name.
        writer.fail() if report.stats.total else writer.abort()
        raise
    writer.close()


def collect_files(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> list[Path]:
    """The batch's output and error files, downloaded into its folder once."""
    files = []
    for kind, file_id in (("output", record.output_file_id), ("error", record.error_file_id)):
        if not file_id:
            continue
        dest = record.dir / f"{kind}.jsonl"
        if not dest.exists():  # downloaded once; a second collect reads the same bytes
            api_for(record, settings, api).download(file_id, dest)
        files.append(dest)
    return files


# ---------------------------------------------------------------------------- collect


@dataclass
class _Part:
    """One batch being collected: its record, manifest, the agent that built it, and its outcomes."""

    record: BatchRecord
    manifest: Manifest
    agent: Agent
    outcomes: dict[str, Outcome] = field(default_factory=dict)


def _refuse_running(records: list[BatchRecord]) -> None:
    running = [r for r in records if r.status not in TERMINAL]
    if running:
        r = running[0]
        c = r.counts
        raise BatchNotReady(
            f"batch {r.batch_id or r.local_id} is {r.status} "
            f"({c.get('completed', 0) + c.get('failed', 0)}/{c.get('total', 0)} done): "
            "collect it again later, or `paper-agent batch status` to watch it"
        )


def _read_part(record: BatchRecord, settings: Settings, api: BatchAPI | None, report: CollectReport) -> _Part:
    manifest = Manifest(record.manifest_path)
    part = _Part(record, manifest, manifest.agent(settings))
    try:
        ingest(part.agent, manifest, collect_files(record, settings, api), part.outcomes)
    except BaseException:
        part.agent.close()
        raise
    for outcome in part.outcomes.values():
        outcome.earlier = record.collected_at is not None
    note = record.next_step()
    if note:
        report.notes.append(note)
    return part


def _close_record(part: _Part) -> None:
    """Save what the collect found: papers ok / invalid / error and their cost at the batch price."""
    tally = {s: 0 for s in ("ok", "invalid", "error")}
    cost = 0.0
    for key in part.manifest.keys():
        o = part.outcomes.get(key)
        tally[o.status if o else "error"] += 1
        if o is not None and o.usage is not None and o.usage.cost_usd is not None:
            cost += o.usage.cost_usd
    part.record.outcome = tally
    part.record.cost_usd = round(cost, 6) if part.record.batch_price else None
    part.record.collected_at = part.record.collected_at or utc_now()
    part.record.save()


def batch_collect(
    ids: Iterable[str],
    *,
    settings: Settings | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    repair: bool = False,
    api: BatchAPI | None = None,
) -> CollectReport:
    """Download, validate and cache the results of finished batches; write them like ``run``."""
    settings = settings or Settings()
    store = RecordStore(settings.cache_dir)
    records = [refresh(store.find(i), settings, api) for i in ids]
    if not records:
        raise BatchError("name at least one batch id (`paper-agent batch list` shows them)")
    _refuse_running(records)
    report = CollectReport(records=records)
    parts: list[_Part] = []
    try:
        for record in records:
            parts.append(_read_part(record, settings, api, report))
        repaired: dict[str, PaperResult] = {}
        if repair:
            for part in parts:
                repaired.update(repair_online(part.agent, _unanswered(part.agent, part.manifest, part.outcomes)))
        report.repaired = len(repaired)
        items = (
            (key, paper, part.outcomes.get(key), missing_reason(part.record))
            for part in parts
            for _, key, paper in part.manifest
        )
        write_results(parts[0].agent, items, repaired, output, fmt, report)
        if not report.problems:
            report.notes.clear()  # "papers without a result ... or --repair": none is left
        for part in parts:
            _close_record(part)
    finally:
        for part in parts:
            part.agent.close()
    report.stats.finish()
    return report


# ---------------------------------------------------------------------------- export / import


def batch_export(
    inputs: Iterable[str | Path], agent: Agent, output: str | Path, *, input_format: str | None = None
) -> ExportReport:
    """Write one OpenAI-batch-format request file (and its manifest) for the uncached papers."""
    output = Path(output)
    counts = BuildCounts()
    read = read_inputs(inputs, input_format, settings=agent.settings, cache=agent.cache is not None)
    # The request file and its manifest replace whatever is there: never an input digest.
    for target in (output, manifest_path_for(output)):
        refuse_output_among_inputs(read.files, target)
    stream = request_lines(agent, read.papers, counts)
    first = next(stream, None)  # a bad input path fails before any file is created
    pair = FilePair(output, manifest_path_for(output), manifest_header(agent))
    try:
        if first is not None:
            pair.add(*first)
        for item in stream:
            pair.add(*item)
        pair.close()
    except BaseException:
        pair.abort()
        raise
    counts.requests, counts.bytes = pair.lines, pair.bytes
    return ExportReport(output, pair.manifest, counts)


def _check_requests(requests: Path, manifest: Manifest, files: list[Path]) -> None:
    """The request file is the one the manifest describes, and every results file exists."""
    sha = hashlib.sha256()
    try:
        with requests.open("rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
    except OSError as exc:
        raise BatchError(f"{requests}: cannot read the request file ({exc.strerror or exc})") from None
    if sha.hexdigest() != manifest.header.get("sha256"):
        raise BatchError(f"{requests}: does not match its manifest {manifest.path.name} (edited after export?)")
    for path in files:
        if not path.is_file():
            raise BatchError(f"{path}: no such results file")


def batch_import(
    results: str | Path | Iterable[str | Path],
    requests: str | Path,
    *,
    manifest: str | Path | None = None,
    settings: Settings | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    repair: bool = False,
) -> CollectReport:
    """Validate an engine's results file(s) against the requests they answer; cache and write them.

    ``results`` may be several files (the Batch API's output and error files, or an engine's
    shards); every request in the manifest ends ``ok``, ``invalid`` or ``error`` exactly once.
    """
    requests = Path(requests)
    files = [Path(results)] if isinstance(results, (str, Path)) else [Path(r) for r in results]
    manifest = Path(manifest or manifest_path_for(requests))
    # Overwriting a results file, the request file or the manifest would lose the only copy
    # (and every later import): refused like ``run``'s output among its inputs, before reading.
    refuse_output_among_inputs([InputFile(p, named=True) for p in (*files, requests, manifest)], output)
    man = Manifest(manifest)
    _check_requests(requests, man, files)
    agent = man.agent(settings)
    report = CollectReport()
    try:
        outcomes: dict[str, Outcome] = {}
        ingest(agent, man, files, outcomes)
        repaired = repair_online(agent, _unanswered(agent, man, outcomes)) if repair else {}
        report.repaired = len(repaired)
        missing = f"no result line for this request in {', '.join(p.name for p in files)}"
        items = ((key, paper, outcomes.get(key), missing) for _, key, paper in man)
        write_results(agent, items, repaired, output, fmt, report)
    finally:
        agent.close()
    report.stats.finish()
    return report
