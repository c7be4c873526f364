"""``paper-agent batch ...`` and ``run --batch``: the OpenAI Batch API and request files for any engine."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from agent.cli.common import (
    BaseUrlOpt,
    CacheDirOpt,
    ModelOpt,
    TaxonomyOpt,
    batch_app,
    err,
    interrupt_status,
    interrupted,
    make_agent,
    note,
    print_summary,
    progress_bar,
    setup_logging,
)

# ---------------------------------------------------------------------------- batch


def _settings(cache_dir: Path | None):  # noqa: ANN202 - agent.settings.Settings, imported lazily
    from agent.settings import Settings

    return Settings.load(cache_dir=cache_dir)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _batch_table(records, title: str = "batches") -> None:  # noqa: ANN001
    table = Table(title=title, show_header=True, header_style="bold")
    for col in ("batch", "local id", "state", "done / total", "failed", "age", "cost (batch price)"):
        table.add_column(col, no_wrap=col in ("batch", "local id"))
    for r in records:
        c = r.counts
        cost = r.estimated_cost()
        label = "" if cost is None else (f"${cost:.4f}" if r.cost_usd is not None else f"~${cost:.4f} est.")
        state = r.status + (" (collected)" if r.collected_at else "")
        table.add_row(
            r.batch_id or "-",
            r.local_id,
            state,
            f"{c.get('completed', 0)} / {c.get('total', 0)}",
            str(c.get("failed", 0)),
            _age(r.age_s()),
            label or "unpriced",
        )
    # Ids are what a user copies into `batch collect`: never cut or wrapped to fit 80 columns.
    needed = Measurement.get(err, err.options.update_width(10_000), table).maximum
    (err if needed <= err.width else Console(stderr=True, width=needed)).print(table)
    for r in records:
        step = r.next_step()
        if step:
            note(step)


def _collect_summary(report, output: Path | None) -> None:  # noqa: ANN001
    print_summary(report.stats)
    for text in report.notes:
        note(text)
    shown = report.problems[:50]
    for paper_id, status, reason in shown:
        err.print(f"{status}: {paper_id}: {escape(reason)}", highlight=False, soft_wrap=True)
    if len(report.problems) > len(shown):
        err.print(f"... and {len(report.problems) - len(shown)} more (their status and error are in the output)")
    if report.problems and not report.repaired:
        err.print("re-ask them online with --repair", highlight=False)
    if output is not None:
        err.print(f"wrote {report.stats.total} results to {escape(str(output))}", highlight=False)


def refuse_with_batch(
    *, retry_errors: Path | None, concurrency: int | None, only: str | None = None, min_confidence: float | None = None
) -> None:
    """``run`` options a batch has no use for: refused in one line, never silently dropped.

    ``--concurrency`` defaults to None in the CLI, so only an explicit one is refused.
    """
    from agent.errors import ConfigError

    if retry_errors is not None:
        raise ConfigError(
            "--retry-errors does not apply with --batch: failed papers are not cached, so `run --batch` "
            "on the same inputs submits only those again"
        )
    if concurrency is not None:
        raise ConfigError("--concurrency does not apply with --batch: the Batch API schedules the requests itself")
    if only is not None or min_confidence is not None:
        raise ConfigError(
            "--only/--min-confidence do not apply with --batch yet: collect the batch, then run again "
            "on the same inputs with the filter (every result comes from the cache)"
        )


def run_batch(inputs, agent, output, fmt, input_format, poll, fetch) -> None:  # noqa: ANN001
    from agent.bulk import triage_batch

    progress = progress_bar("{task.description}")
    task = progress.add_task("batch", total=None)

    def submitted(rep) -> None:  # noqa: ANN001
        for batch_id in rep.batch_ids:
            err.print(f"submitted {batch_id}", highlight=False)
        for record in rep.attached:
            err.print(
                f"waiting for {record.batch_id or record.local_id}: an earlier run submitted "
                "some of these papers in it",
                highlight=False,
            )
        if not rep.records and not rep.attached:
            err.print(
                f"nothing to submit: {rep.counts.cached} cached, {rep.counts.skipped} without abstract", highlight=False
            )

    def waiting(done: int, total: int, records) -> None:  # noqa: ANN001
        states = ", ".join(sorted({r.status for r in records})) or "done"
        progress.update(task, completed=done, total=total or None, description=f"batch {states}")
        if not err.is_terminal:
            err.print(f"batch {states}: {done}/{total} done", highlight=False)

    try:
        with progress:
            report = triage_batch(
                inputs,
                agent,
                output=output,
                fmt=fmt,
                input_format=input_format,
                fetch=fetch,
                poll=poll,
                on_submit=submitted,
                on_progress=waiting,
            )
    except KeyboardInterrupt as exc:
        err.print(
            "interrupted: the batches keep running; run the same command again to collect them, or "
            "`paper-agent batch status` shows them and `paper-agent batch collect ID` fetches their results"
        )
        raise typer.Exit(interrupt_status(exc)) from None
    _collect_summary(report, output)


@batch_app.command("submit")
def batch_submit_cmd(
    inputs: list[Path] = typer.Argument(..., help="Digest files or folders"),
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    prompt_version: str | None = typer.Option(None, "--prompt-version", help="Prompt template version"),
    mode: str | None = typer.Option(None, "--mode", help="auto | json | json_object_schema | tools | json_object"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    max_per_batch: int | None = typer.Option(
        None, "--max-papers-per-batch", help="Split into batches of at most N (API limit 50,000)"
    ),
    input_format: str | None = typer.Option(None, "--input-format"),
    prices: Path | None = typer.Option(None, "--prices", help="Price table TOML"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Submit every uncached paper to the OpenAI Batch API; print the batch ids."""
    from agent.bulk import batch_submit

    setup_logging(False)
    agent = make_agent(
        backend="openai",
        model=model,
        base_url=base_url,
        taxonomy=taxonomy,
        prompt_version=prompt_version,
        mode=mode,
        temperature=temperature,
        max_tokens=max_tokens,
        prices_file=prices,
        cache_dir=cache_dir,
    )
    try:
        report = batch_submit(inputs, agent, input_format=input_format, max_per_batch=max_per_batch)
    finally:
        agent.close()
    c = report.counts
    for batch_id in report.batch_ids:
        typer.echo(batch_id)
    err.print(
        f"{c.requests} requests in {len(report.records)} batch(es); {c.cached} cached, {c.skipped} without "
        f"abstract, {c.pending} already in an open batch",
        highlight=False,
    )
    if report.records:
        _batch_table(report.records, "submitted")


JsonOpt = typer.Option(False, "--json", help="Print the records as a JSON list on stdout")


def _records_json(records) -> None:  # noqa: ANN001
    """The records as stored (``record.json``) plus what the table derives: for scripts."""
    rows = [
        {
            **r.model_dump(mode="json", exclude_none=True),
            "estimated_cost_usd": r.estimated_cost(),
            "next_step": r.next_step(),
        }
        for r in records
    ]
    typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))


@batch_app.command("status")
def batch_status_cmd(
    ids: list[str] | None = typer.Argument(None, help="Batch ids (default: every one not collected)"),
    cache_dir: Path | None = CacheDirOpt,
    as_json: bool = JsonOpt,
) -> None:
    """State, counts, age and cost of batches."""
    from agent.bulk import batch_status

    records = batch_status(ids or [], settings=_settings(cache_dir))
    if as_json:
        _records_json(records)
        return
    if not records:
        err.print("no open batches (`paper-agent batch list` shows every one)")
        return
    _batch_table(records)


@batch_app.command("list")
def batch_list_cmd(cache_dir: Path | None = CacheDirOpt, as_json: bool = JsonOpt) -> None:
    """Every batch recorded on this machine."""
    from agent.bulk import batch_list

    records = batch_list(settings=_settings(cache_dir))
    if as_json:
        _records_json(records)
        return
    if not records:
        err.print("no batches recorded")
        return
    _batch_table(records)


@batch_app.command("collect")
def batch_collect_cmd(
    ids: list[str] = typer.Argument(..., help="Batch ids (or local ids)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (default: stdout)"),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="jsonl | csv | md (default: from the -o extension, else jsonl)"
    ),
    repair: bool = typer.Option(False, "--repair", help="Re-ask invalid and failed papers online"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Validate and cache finished batches' results, and write them like `run`."""
    from agent.bulk import batch_collect

    setup_logging(False)
    try:
        report = batch_collect(ids, settings=_settings(cache_dir), output=output, fmt=fmt, repair=repair)
    except KeyboardInterrupt as exc:
        raise interrupted(exc, output) from None
    _collect_summary(report, output)


@batch_app.command("cancel")
def batch_cancel_cmd(batch_id: str = typer.Argument(...), cache_dir: Path | None = CacheDirOpt) -> None:
    """Cancel a running batch (what finished stays collectable)."""
    from agent.bulk import batch_cancel

    record = batch_cancel(batch_id, settings=_settings(cache_dir))
    typer.echo(f"{record.batch_id}: {record.status}")


@batch_app.command("export")
def batch_export_cmd(
    inputs: list[Path] = typer.Argument(..., help="Digest files or folders"),
    output: Path = typer.Option(..., "-o", "--output", help="Request file to write (JSONL, OpenAI batch format)"),
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    prompt_version: str | None = typer.Option(None, "--prompt-version"),
    mode: str | None = typer.Option(None, "--mode", help="auto | json | json_object_schema | tools | json_object"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    input_format: str | None = typer.Option(None, "--input-format"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Write the requests for every uncached paper, for vLLM's run_batch or any OpenAI-batch engine."""
    from agent.bulk import batch_export

    setup_logging(False)
    agent = make_agent(
        backend="openai",
        model=model,
        base_url=base_url,
        taxonomy=taxonomy,
        prompt_version=prompt_version,
        mode=mode,
        temperature=temperature,
        max_tokens=max_tokens,
        cache_dir=cache_dir,
    )
    try:
        report = batch_export(inputs, agent, output, input_format=input_format)
    finally:
        agent.close()
    c = report.counts
    err.print(
        f"wrote {c.requests} requests ({c.bytes / 1e6:.1f} MB) to {escape(str(report.requests))} and the manifest "
        f"{escape(str(report.manifest))}; {c.cached} cached, {c.skipped} without abstract",
        highlight=False,
    )


@batch_app.command("import")
def batch_import_cmd(
    results: list[Path] = typer.Argument(..., help="The engine's results file(s) (JSONL, OpenAI batch output format)"),
    requests: Path = typer.Option(..., "--requests", help="The request file `batch export` wrote"),
    manifest: Path | None = typer.Option(None, "--manifest", help="Its manifest (default: next to the request file)"),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (default: stdout)"),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="jsonl | csv | md (default: from the -o extension, else jsonl)"
    ),
    repair: bool = typer.Option(False, "--repair", help="Re-ask invalid and failed papers online"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Validate an engine's results, store them in the cache, and write them like `run`."""
    from agent.bulk import batch_import

    setup_logging(False)
    try:
        report = batch_import(
            results, requests, manifest=manifest, settings=_settings(cache_dir), output=output, fmt=fmt, repair=repair
        )
    except KeyboardInterrupt as exc:
        raise interrupted(exc, output) from None
    _collect_summary(report, output)
