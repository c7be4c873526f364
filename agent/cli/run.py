"""``paper-agent run`` (the main job), ``paper-agent fetch`` and ``paper-agent check``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from agent.cli.batch import refuse_with_batch, run_batch
from agent.cli.common import (
    BackendOpt,
    BaseUrlOpt,
    CacheDirOpt,
    CrossOpt,
    DateOpt,
    ModelFileOpt,
    ModelOpt,
    SinceOpt,
    TaxonomyOpt,
    UntilOpt,
    app,
    err,
    interrupt_status,
    interrupted,
    kept_rows,
    make_agent,
    note,
    print_summary,
    progress_bar,
    setup_logging,
)
from agent.errors import PaperAgentError

InputsArg = typer.Argument(
    ..., help="Digest files or folders (every file inside), or arXiv sources: arxiv:cs.IR,cs.CL or arxiv:ID,ID"
)
OutputOpt = typer.Option(None, "-o", "--output", help="Output file (default: stdout)")
FormatOpt = typer.Option(None, "--format", "-f", help="jsonl | csv | md | html (default: from the -o extension)")
InputFormatOpt = typer.Option(None, "--input-format", help="digest-md | table-md | jsonl | json | atom")
ModeOpt = typer.Option(
    None, "--mode", help="auto (default: probe once) | json | json_object_schema | tools | json_object"
)
TimeoutOpt = typer.Option(None, "--timeout", help="Seconds per request in all (default 60; see paper-agent check)")
PromptOpt = typer.Option(None, "--prompt-version", help="triage-v1 (default) | triage-compact-v1 (small contexts)")
ConcurrencyOpt = typer.Option(None, "--concurrency", "-j", help="Calls in flight (default 8)")
MaxRetriesOpt = typer.Option(None, "--max-retries", help="Validation re-asks (default 2)")
PricesOpt = typer.Option(None, "--prices", help="Price table TOML (overrides built-in)")
NoCacheOpt = typer.Option(False, "--no-cache", help="Neither read nor write the cache")
RefreshOpt = typer.Option(False, "--refresh", help="Recompute and overwrite cached results")
RetryErrorsOpt = typer.Option(None, "--retry-errors", help="Re-run only error/invalid papers of this JSONL output")
BatchOpt = typer.Option(
    False, "--batch", help="Go through the OpenAI Batch API (half price, up to 24 h): submit, wait, collect"
)
PollOpt = typer.Option(30.0, "--poll", help="With --batch: seconds between status checks")
OnlyOpt = typer.Option(None, "--only", help="Write only papers with these labels: rag,rl_rec (any output format)")
MinConfidenceOpt = typer.Option(
    None, "--min-confidence", help="Write only papers labelled with this confidence or more"
)


@app.command()
def run(
    inputs: list[Path] = InputsArg,
    output: Path | None = OutputOpt,
    fmt: str | None = FormatOpt,
    backend: str | None = BackendOpt,
    taxonomy: Path | None = TaxonomyOpt,
    model_file: Path | None = ModelFileOpt,
    input_format: str | None = InputFormatOpt,
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    mode: str | None = ModeOpt,
    concurrency: int | None = ConcurrencyOpt,
    max_retries: int | None = MaxRetriesOpt,
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    timeout: float | None = TimeoutOpt,
    prompt_version: str | None = PromptOpt,
    prices: Path | None = PricesOpt,
    no_cache: bool = NoCacheOpt,
    refresh: bool = RefreshOpt,
    cache_dir: Path | None = CacheDirOpt,
    retry_errors: Path | None = RetryErrorsOpt,
    date: str | None = DateOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    cross_lists: bool = CrossOpt,
    batch: bool = BatchOpt,
    poll: float = PollOpt,
    only: str | None = OnlyOpt,
    min_confidence: float | None = MinConfidenceOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Triage papers: label each by method type and write an English TL;DR (arxiv:cs.IR: fetch them first)."""
    setup_logging(verbose)
    fetch = {"date": date, "since": since, "until": until, "cross_lists": cross_lists}
    options = {
        "taxonomy": taxonomy,
        "model_file": model_file,
        "model": model,
        "base_url": base_url,
        "mode": mode,
        "max_retries": max_retries,
        "temperature": temperature,
        "max_tokens": max_tokens,
        "timeout": timeout,
        "prompt_version": prompt_version,
        "prices_file": prices,
        "cache": not no_cache,
        "refresh": refresh,
        "cache_dir": cache_dir,
    }
    filters = {"only": only.split(",") if only else None, "min_confidence": min_confidence}
    if batch:
        refuse_with_batch(retry_errors=retry_errors, concurrency=concurrency, only=only, min_confidence=min_confidence)
        with make_agent(backend=backend or "openai", **options) as agent:
            run_batch(inputs, agent, output, fmt, input_format, poll, fetch)
        return
    with make_agent(backend=backend, concurrency=concurrency, **options) as agent:
        _run_online(inputs, agent, output or retry_errors, fmt, input_format, retry_errors, fetch, filters)


def _run_online(inputs, agent, output, fmt, input_format, retry_errors, fetch, filters) -> None:  # noqa: ANN001
    """``run`` without ``--batch``: triage with a progress bar, then the summary."""
    from agent.triage import triage

    if agent.notice:
        note(agent.notice)
    progress = progress_bar()
    task = progress.add_task("papers", total=None)
    written = 0

    def advance(_result: object) -> None:
        nonlocal written
        written += 1
        progress.advance(task)

    try:
        with progress:
            stats = triage(
                inputs,
                agent,
                output=output,
                fmt=fmt,
                input_format=input_format,
                retry_errors=retry_errors,
                on_result=advance,
                fetch=fetch,
                on_note=lambda line: err.print(f"arXiv: {escape(line)}", highlight=False, soft_wrap=True),
                **filters,
            )
    except KeyboardInterrupt as exc:
        raise interrupted(exc, output) from None
    except PaperAgentError:
        # Only this run's rows: a .partial there may be another run's (refused by the output lock).
        if output is not None and written and kept_rows(output):
            err.print(f"note: finished results are in the cache{kept_rows(output)}", highlight=False, soft_wrap=True)
        raise
    if stats.total == 0 and stats.skipped_files == 0:
        err.print("no papers: nothing written", highlight=False)
        return
    print_summary(stats, reused_from=retry_errors)
    if output is not None:
        err.print(f"wrote {stats.total - stats.left_out} results to {escape(str(output))}", highlight=False)


@app.command()
def fetch(
    categories: list[str] | None = typer.Argument(None, help="arXiv categories (default cs.IR); cs.IR,cs.CL works too"),
    date: str | None = DateOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    ids: list[str] | None = typer.Option(
        None, "--id", help="Exact papers: 2510.12815, 2510.12815v2, cs/0112017 (repeatable)"
    ),
    cross_lists: bool = CrossOpt,
    output: Path | None = typer.Option(None, "-o", "--output", help="Paper JSONL file (default: stdout)"),
    refresh: bool = typer.Option(False, "--refresh", help="Fetch anew instead of reading cached pages"),
    cache_dir: Path | None = CacheDirOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Fetch papers from arXiv as Paper JSONL: today's announcement, a date range, or ids."""
    from agent.inputs.arxiv import fetch as fetch_arxiv
    from agent.outputs import write_papers

    setup_logging(verbose)
    try:
        result = fetch_arxiv(
            categories or None,
            date=date,
            since=since,
            until=until,
            ids=ids or None,
            cross_lists=cross_lists,
            refresh=refresh,
            cache_dir=cache_dir,
        )
    except KeyboardInterrupt as exc:
        err.print("interrupted: the pages fetched so far are cached; run again to resume")
        raise typer.Exit(interrupt_status(exc)) from None
    err.print(escape(result.summary()), highlight=False, soft_wrap=True)
    if not result.papers:
        return
    n = write_papers(result.papers, output)
    if output is not None:
        err.print(f"wrote {n} papers to {escape(str(output))}", highlight=False)


# ---------------------------------------------------------------------------- check


@app.command()
def check(
    base_url: str | None = BaseUrlOpt,
    model: str | None = ModelOpt,
    mode: str | None = typer.Option(None, "--mode", help="Check only this mode: tools | json | json_object"),
    prices: Path | None = typer.Option(None, "--prices", help="Price table TOML (overrides built-in)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Diagnose an endpoint before a big run: reachable, key, model, which --mode works, cost, --concurrency."""
    from agent.check import check_endpoint
    from agent.check_report import report_json

    report = check_endpoint(base_url=base_url, model=model, mode=mode, prices_file=prices)
    typer.echo(report_json(report) if as_json else "\n".join(report.lines()))
    raise typer.Exit(report.exit_code)
