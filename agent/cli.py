"""``paper-agent``: a thin command line over the Python API.

Each command parses options, calls one API function and turns ``PaperAgentError`` into a
one-line message and an exit code. Anything heavier belongs in the library.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.errors import PaperAgentError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Triage arXiv digests: method-type labels, English TL;DRs, cached results, evals.",
)
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or empty the result cache.")
eval_app = typer.Typer(
    help="Score the agent against hand labels (default: the frozen test split), or compare two runs."
)
batch_app = typer.Typer(
    no_args_is_help=True, help="Bulk triage: OpenAI Batch API jobs (half price) and request files for any engine."
)
app.add_typer(cache_app, name="cache")
app.add_typer(eval_app, name="eval")
app.add_typer(batch_app, name="batch")
err = Console(stderr=True)

BackendOpt = typer.Option(None, "--backend", help="auto | offline | openai (default: auto)")
ModelOpt = typer.Option(None, "--model", help="Model name (PAPER_AGENT_MODEL)")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (OPENAI_BASE_URL)")
TaxonomyOpt = typer.Option(None, "--taxonomy", help="Taxonomy TOML file (default: built-in)")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache folder (PAPER_AGENT_CACHE_DIR)")
DateOpt = typer.Option(None, "--date", help="arXiv: papers submitted on this day, YYYY-MM-DD (UTC)")
SinceOpt = typer.Option(None, "--since", help="arXiv: papers submitted from this day (YYYY-MM-DD)")
UntilOpt = typer.Option(None, "--until", help="arXiv: ... to this day, inclusive (default: today)")
CrossOpt = typer.Option(
    True, "--cross-lists/--no-cross-lists", help="arXiv: keep papers cross-listed from other categories"
)


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("agent")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def _agent(**kwargs: object):  # noqa: ANN202 - returns agent.Agent, imported lazily
    from agent.pipeline import Agent

    backend = kwargs.pop("backend", None) or "auto"
    return Agent(backend=backend, **{k: v for k, v in kwargs.items() if v is not None})  # type: ignore[arg-type]


def _summary(stats, elapsed_label: str = "elapsed", reused_from: Path | None = None) -> None:  # noqa: ANN001
    table = Table(title="paper-agent summary", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, n in sorted(stats.labels.items(), key=lambda kv: -kv[1]):
        table.add_row(f"label {label}", str(n))
    for status, n in stats.statuses.items():
        table.add_row(f"status {status}", str(n))
    table.add_row("cached / new", f"{stats.cached} / {stats.new}")
    if stats.reused:
        table.add_row(f"reused from {escape(str(reused_from))}", str(stats.reused))
    if stats.skipped_files:
        table.add_row("skipped files (see warnings)", str(stats.skipped_files))
    if stats.prompt_tokens or stats.completion_tokens:
        table.add_row("tokens prompt / completion", f"{stats.prompt_tokens} / {stats.completion_tokens}")
        cost = f"${stats.cost_usd:.4f}" + (f" (+{stats.unpriced} unpriced)" if stats.unpriced else "")
        table.add_row("cost", cost)
    table.add_row(elapsed_label, f"{stats.elapsed_s:.2f} s")
    err.print(table)


@app.command()
def run(
    inputs: list[Path] = typer.Argument(
        ..., help="Digest files or folders (every file inside), or arXiv sources: arxiv:cs.IR,cs.CL or arxiv:ID,ID"
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="Output file (default: stdout)"),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="jsonl | csv | md (default: from the -o extension, else jsonl)"
    ),
    backend: str | None = BackendOpt,
    taxonomy: Path | None = TaxonomyOpt,
    input_format: str | None = typer.Option(None, "--input-format", help="digest-md | table-md | jsonl | json | atom"),
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    mode: str | None = typer.Option(None, "--mode", help="tools | json | json_object (structured-output mode)"),
    concurrency: int | None = typer.Option(None, "--concurrency", "-j", help="Calls in flight (default 8)"),
    max_retries: int | None = typer.Option(None, "--max-retries", help="Validation re-asks (default 2)"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    prices: Path | None = typer.Option(None, "--prices", help="Price table TOML (overrides built-in)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the cache"),
    refresh: bool = typer.Option(False, "--refresh", help="Recompute and overwrite cached results"),
    cache_dir: Path | None = CacheDirOpt,
    retry_errors: Path | None = typer.Option(
        None, "--retry-errors", help="Re-run only error/invalid papers of this JSONL output"
    ),
    date: str | None = DateOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    cross_lists: bool = CrossOpt,
    batch: bool = typer.Option(
        False, "--batch", help="Go through the OpenAI Batch API (half price, up to 24 h): submit, wait, collect"
    ),
    poll: float = typer.Option(30.0, "--poll", help="With --batch: seconds between status checks"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Triage papers: label each by method type and write an English TL;DR.

    An arxiv:cs.IR input fetches today's announcement (or, with --date/--since, the papers
    submitted on those days) and triages it in the same run.
    """
    from agent.batch import triage

    _setup_logging(verbose)
    fetch = {"date": date, "since": since, "until": until, "cross_lists": cross_lists}
    if batch:
        _refuse_with_batch(retry_errors=retry_errors, concurrency=concurrency)
        agent = _agent(
            backend=backend or "openai",
            taxonomy=taxonomy,
            model=model,
            base_url=base_url,
            mode=mode,
            max_retries=max_retries,
            temperature=temperature,
            max_tokens=max_tokens,
            prices_file=prices,
            cache=not no_cache,
            refresh=refresh,
            cache_dir=cache_dir,
        )
        try:
            _run_batch(inputs, agent, output, fmt, input_format, poll, fetch)
        finally:
            agent.close()
        return
    if retry_errors is not None and output is None:
        output = retry_errors
    agent = _agent(
        backend=backend,
        taxonomy=taxonomy,
        model=model,
        base_url=base_url,
        mode=mode,
        concurrency=concurrency,
        max_retries=max_retries,
        temperature=temperature,
        max_tokens=max_tokens,
        prices_file=prices,
        cache=not no_cache,
        refresh=refresh,
        cache_dir=cache_dir,
    )
    if agent.notice:
        err.print(f"[yellow]note:[/] {agent.notice}", highlight=False, soft_wrap=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("triaging"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    task = progress.add_task("papers", total=None)
    try:
        with progress:
            stats = triage(
                inputs,
                agent,
                output=output,
                fmt=fmt,
                input_format=input_format,
                retry_errors=retry_errors,
                on_result=lambda _r: progress.advance(task),
                fetch=fetch,
                on_note=lambda line: err.print(f"arXiv: {escape(line)}", highlight=False, soft_wrap=True),
            )
    except KeyboardInterrupt:
        err.print(f"interrupted: finished results are in the cache{_kept_rows(output)}; run again to resume")
        raise typer.Exit(130) from None
    except PaperAgentError:
        if output is not None and _kept_rows(output):
            err.print(f"note: finished results are in the cache{_kept_rows(output)}", highlight=False, soft_wrap=True)
        raise
    finally:
        agent.close()
    if stats.total == 0 and stats.skipped_files == 0:
        err.print("no papers: nothing written", highlight=False)
        return
    _summary(stats, reused_from=retry_errors)
    if output is not None:
        err.print(f"wrote {stats.total} results to {escape(str(output))}", highlight=False)


def _kept_rows(output: Path | None) -> str:
    """Where an unfinished run left its rows: `` and out.jsonl.partial``, or `` and stdout``."""
    if output is None:
        return " and stdout"
    partial = output.with_name(output.name + ".partial")
    return f" and {escape(str(partial))}" if partial.exists() else ""


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

    _setup_logging(verbose)
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
    except KeyboardInterrupt:
        err.print("interrupted: the pages fetched so far are cached; run again to resume")
        raise typer.Exit(130) from None
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
    from agent.check import check_endpoint, report_json

    report = check_endpoint(base_url=base_url, model=model, mode=mode, prices_file=prices)
    typer.echo(report_json(report) if as_json else "\n".join(report.lines()))
    raise typer.Exit(report.exit_code)


# ---------------------------------------------------------------------------- cache


@cache_app.command("path")
def cache_path(cache_dir: Path | None = CacheDirOpt) -> None:
    """Print the cache folder."""
    from agent.cache import cache_location

    typer.echo(str(cache_location(cache_dir)))


@cache_app.command("stats")
def cache_stats(cache_dir: Path | None = CacheDirOpt) -> None:
    """Show the cache's size and entry counts (results, and arXiv pages apart)."""
    from agent.cache import cache_stats

    typer.echo(json.dumps(cache_stats(cache_dir), indent=2))


@cache_app.command("clear")
def cache_clear(cache_dir: Path | None = CacheDirOpt) -> None:
    """Delete every cached result and fetched arXiv page."""
    from agent.cache import clear_cache

    n, pages = clear_cache(cache_dir)
    typer.echo(f"removed {n} entries" + (f" and {pages} arXiv pages" if pages else ""))


@cache_app.command("explain")
def cache_explain(
    inputs: list[Path] = typer.Argument(..., help="Digest file(s) holding the paper"),
    paper_id: str = typer.Option(..., "--id", help="arXiv id of the paper"),
    backend: str | None = BackendOpt,
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    mode: str | None = typer.Option(None, "--mode"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Print a paper's cache key, its components, and whether it is cached."""
    from agent.inputs import iter_papers

    paper = next((p for p in iter_papers(inputs) if p.id == paper_id), None)
    if paper is None:
        raise PaperAgentError(f"paper {paper_id} not found in {', '.join(map(str, inputs))}")
    agent = _agent(
        backend=backend,
        model=model,
        base_url=base_url,
        taxonomy=taxonomy,
        mode=mode,
        temperature=temperature,
        max_tokens=max_tokens,
        cache_dir=cache_dir,
    )
    typer.echo(json.dumps(agent.explain(paper), indent=2))


# ---------------------------------------------------------------------------- eval


@eval_app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    dataset: str | None = typer.Option(
        None, "--dataset", help="seeds | dev | test (default: test, the frozen split) | a labelled JSONL file"
    ),
    results: Path | None = typer.Option(None, "--results", help="Score this results file; call no model"),
    out: Path = typer.Option(Path("eval-out"), "-o", "--out", help="Folder for metrics.json, report.md, report.html"),
    backend: str | None = BackendOpt,
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    mode: str | None = typer.Option(None, "--mode", help="tools | json"),
    concurrency: int | None = typer.Option(None, "--concurrency", "-j"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    cache_dir: Path | None = CacheDirOpt,
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (reports are reproducible)"),
) -> None:
    """Run the agent over a labelled dataset and write metrics.json, report.md and report.html."""
    if ctx.invoked_subcommand is not None:
        return
    from agent.evaluate import score_file
    from agent.evaluate.runner import run_eval
    from agent.taxonomy import load_taxonomy

    _setup_logging(False)
    if results is not None:
        report, paths = score_file(results, dataset, out, taxonomy=load_taxonomy(taxonomy), seed=seed)
    else:
        agent = _agent(
            backend=backend,
            model=model,
            base_url=base_url,
            taxonomy=taxonomy,
            mode=mode,
            concurrency=concurrency,
            cache=not no_cache,
            cache_dir=cache_dir,
        )
        if agent.notice:
            err.print(f"[yellow]note:[/] {agent.notice}", highlight=False, soft_wrap=True)
        try:
            report, paths = run_eval(agent, dataset, out, seed=seed)
        finally:
            agent.close()
    acc, f1 = report.accuracy, report.macro_f1
    typer.echo(
        f"{report.dataset}: accuracy {acc.value:.3f} [95% CI {acc.ci_low:.3f}, {acc.ci_high:.3f}]  "
        f"macro-F1 {f1.value:.3f} [{f1.ci_low:.3f}, {f1.ci_high:.3f}]  n={report.n}"
    )
    if report.human_agreement is not None and report.kappa is not None:
        typer.echo(
            f"kappa against gold {report.kappa:.3f}; human agreement (two annotators, "
            f"n={report.human_agreement.n}) {report.human_agreement.kappa:.3f}"
        )
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


@eval_app.command("compare")
def eval_compare(
    run_a: Path = typer.Argument(..., help="Eval folder or results JSONL (baseline)"),
    run_b: Path = typer.Argument(..., help="Eval folder or results JSONL (candidate)"),
    dataset: str | None = typer.Option(
        None, "--dataset", help="seeds | dev | test (default: test) | a labelled JSONL file"
    ),
    out: Path = typer.Option(
        Path("compare-out"), "-o", "--out", help="Folder for compare.md, compare.html and compare.json"
    ),
    taxonomy: Path | None = TaxonomyOpt,
) -> None:
    """Side-by-side metrics, McNemar test, paired bootstrap, and every paper whose label changed."""
    from agent.evaluate import compare, format_comparison_text, load_dataset, write_comparison
    from agent.evaluate.runner import resolve_dataset
    from agent.taxonomy import load_taxonomy

    comp = compare(run_a, run_b, load_dataset(resolve_dataset(dataset).path), taxonomy=load_taxonomy(taxonomy))
    typer.echo(format_comparison_text(comp))
    for name, path in write_comparison(comp, out).items():
        typer.echo(f"{name}: {path}")


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
        table.add_column(col)
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
    err.print(table)
    for r in records:
        note = r.next_step()
        if note:
            err.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)


def _collect_summary(report, output: Path | None) -> None:  # noqa: ANN001
    _summary(report.stats)
    for note in report.notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    shown = report.problems[:50]
    for paper_id, status, reason in shown:
        err.print(f"{status}: {paper_id}: {escape(reason)}", highlight=False, soft_wrap=True)
    if len(report.problems) > len(shown):
        err.print(f"... and {len(report.problems) - len(shown)} more (their status and error are in the output)")
    if report.problems and not report.repaired:
        err.print("re-ask them online with --repair", highlight=False)
    if output is not None:
        err.print(f"wrote {report.stats.total} results to {escape(str(output))}", highlight=False)


def _refuse_with_batch(*, retry_errors: Path | None, concurrency: int | None) -> None:
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


def _run_batch(inputs, agent, output, fmt, input_format, poll, fetch) -> None:  # noqa: ANN001
    from agent.bulk import triage_batch

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )
    task = progress.add_task("batch", total=None)

    def submitted(rep) -> None:  # noqa: ANN001
        for batch_id in rep.batch_ids:
            err.print(f"submitted {batch_id}", highlight=False)
        if not rep.records:
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
    except KeyboardInterrupt:
        err.print(
            "interrupted: the batches keep running; `paper-agent batch status` shows them and "
            "`paper-agent batch collect ID` fetches their results"
        )
        raise typer.Exit(130) from None
    _collect_summary(report, output)


@batch_app.command("submit")
def batch_submit_cmd(
    inputs: list[Path] = typer.Argument(..., help="Digest files or folders"),
    model: str | None = ModelOpt,
    base_url: str | None = BaseUrlOpt,
    taxonomy: Path | None = TaxonomyOpt,
    prompt_version: str | None = typer.Option(None, "--prompt-version", help="Prompt template version"),
    mode: str | None = typer.Option(None, "--mode", help="tools | json"),
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

    _setup_logging(False)
    agent = _agent(
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


@batch_app.command("status")
def batch_status_cmd(
    ids: list[str] | None = typer.Argument(None, help="Batch ids (default: every one not collected)"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """State, counts, age and cost of batches."""
    from agent.bulk import batch_status

    records = batch_status(ids or [], settings=_settings(cache_dir))
    if not records:
        err.print("no open batches (`paper-agent batch list` shows every one)")
        return
    _batch_table(records)


@batch_app.command("list")
def batch_list_cmd(cache_dir: Path | None = CacheDirOpt) -> None:
    """Every batch recorded on this machine."""
    from agent.bulk import batch_list

    records = batch_list(settings=_settings(cache_dir))
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

    _setup_logging(False)
    report = batch_collect(ids, settings=_settings(cache_dir), output=output, fmt=fmt, repair=repair)
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
    mode: str | None = typer.Option(None, "--mode", help="tools | json"),
    temperature: float | None = typer.Option(None, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    input_format: str | None = typer.Option(None, "--input-format"),
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Write the requests for every uncached paper, for vLLM's run_batch or any OpenAI-batch engine."""
    from agent.bulk import batch_export

    _setup_logging(False)
    agent = _agent(
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

    _setup_logging(False)
    report = batch_import(
        results, requests, manifest=manifest, settings=_settings(cache_dir), output=output, fmt=fmt, repair=repair
    )
    _collect_summary(report, output)


# ---------------------------------------------------------------------------- entry point


def main() -> None:
    try:
        app()
    except PaperAgentError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()
