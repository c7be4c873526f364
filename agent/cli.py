"""``paper-agent``: a thin command line over the Python API.

Each command parses options, calls one API function and turns ``PaperAgentError`` into a
one-line message and an exit code. Anything heavier belongs in the library.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

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
eval_app = typer.Typer(help="Score the agent against hand labels (default: the 40 seed papers), or compare two runs.")
app.add_typer(cache_app, name="cache")
app.add_typer(eval_app, name="eval")
err = Console(stderr=True)

BackendOpt = typer.Option(None, "--backend", help="auto | offline | openai (default: auto)")
ModelOpt = typer.Option(None, "--model", help="Model name (PAPER_AGENT_MODEL)")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (OPENAI_BASE_URL)")
TaxonomyOpt = typer.Option(None, "--taxonomy", help="Taxonomy TOML file (default: built-in)")
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache folder (PAPER_AGENT_CACHE_DIR)")


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


def _summary(stats, elapsed_label: str = "elapsed") -> None:  # noqa: ANN001
    table = Table(title="paper-agent summary", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, n in sorted(stats.labels.items(), key=lambda kv: -kv[1]):
        table.add_row(f"label {label}", str(n))
    for status, n in stats.statuses.items():
        table.add_row(f"status {status}", str(n))
    table.add_row("cached / new", f"{stats.cached} / {stats.new}")
    if stats.prompt_tokens or stats.completion_tokens:
        table.add_row("tokens prompt / completion", f"{stats.prompt_tokens} / {stats.completion_tokens}")
        cost = f"${stats.cost_usd:.4f}" + (f" (+{stats.unpriced} unpriced)" if stats.unpriced else "")
        table.add_row("cost", cost)
    table.add_row(elapsed_label, f"{stats.elapsed_s:.2f} s")
    err.print(table)


@app.command()
def run(
    inputs: list[Path] = typer.Argument(..., help="Digest files or folders (every file inside)"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Output file (default: stdout)"),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl | csv | md"),
    backend: Optional[str] = BackendOpt,
    taxonomy: Optional[Path] = TaxonomyOpt,
    input_format: Optional[str] = typer.Option(None, "--input-format", help="digest-md | table-md | jsonl | json | atom"),
    model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    mode: Optional[str] = typer.Option(None, "--mode", help="tools | json | json_object (structured-output mode)"),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-j", help="Calls in flight (default 8)"),
    max_retries: Optional[int] = typer.Option(None, "--max-retries", help="Validation re-asks (default 2)"),
    temperature: Optional[float] = typer.Option(None, "--temperature"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens"),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price table TOML (overrides built-in)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the cache"),
    refresh: bool = typer.Option(False, "--refresh", help="Recompute and overwrite cached results"),
    cache_dir: Optional[Path] = CacheDirOpt,
    retry_errors: Optional[Path] = typer.Option(None, "--retry-errors", help="Re-run only error/invalid papers of this JSONL output"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Triage papers: label each by method type and write an English TL;DR."""
    from agent.batch import triage

    _setup_logging(verbose)
    if retry_errors is not None and output is None:
        output = retry_errors
    agent = _agent(
        backend=backend, taxonomy=taxonomy, model=model, base_url=base_url, mode=mode,
        concurrency=concurrency, max_retries=max_retries, temperature=temperature,
        max_tokens=max_tokens, prices_file=prices, cache=not no_cache, refresh=refresh,
        cache_dir=cache_dir,
    )  # fmt: skip
    if agent.notice:
        err.print(f"[yellow]note:[/] {agent.notice}", highlight=False, soft_wrap=True)
    progress = Progress(
        SpinnerColumn(), TextColumn("triaging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=not err.is_terminal, transient=True,
    )  # fmt: skip
    task = progress.add_task("papers", total=None)
    try:
        with progress:
            stats = triage(
                inputs, agent, output=output, fmt=fmt, input_format=input_format,
                retry_errors=retry_errors, on_result=lambda _r: progress.advance(task),
            )  # fmt: skip
    except KeyboardInterrupt:
        err.print(f"interrupted: finished results are in the cache and {escape(str(output or 'stdout'))}; run again to resume")
        raise typer.Exit(130) from None
    finally:
        agent.close()
    _summary(stats)
    if output is not None:
        err.print(f"wrote {stats.total} results to {escape(str(output))}", highlight=False)


# ---------------------------------------------------------------------------- check


@app.command()
def check(
    base_url: Optional[str] = BaseUrlOpt,
    model: Optional[str] = ModelOpt,
    mode: Optional[str] = typer.Option(None, "--mode", help="Check only this mode: tools | json | json_object"),
    prices: Optional[Path] = typer.Option(None, "--prices", help="Price table TOML (overrides built-in)"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON"),
) -> None:
    """Diagnose an endpoint before a big run: reachable, key, model, which --mode works, cost, --concurrency."""
    from agent.check import check_endpoint, report_json

    report = check_endpoint(base_url=base_url, model=model, mode=mode, prices_file=prices)
    typer.echo(report_json(report) if as_json else "\n".join(report.lines()))
    raise typer.Exit(report.exit_code)


# ---------------------------------------------------------------------------- cache


@cache_app.command("path")
def cache_path(cache_dir: Optional[Path] = CacheDirOpt) -> None:
    """Print the cache folder."""
    from agent.settings import Settings

    typer.echo(str(cache_dir or Settings().cache_dir))


@cache_app.command("stats")
def cache_stats(cache_dir: Optional[Path] = CacheDirOpt) -> None:
    """Show the cache's size and entry counts."""
    from agent.cache import ResultCache
    from agent.settings import Settings

    cache = ResultCache(cache_dir or Settings().cache_dir)
    typer.echo(json.dumps(cache.stats(), indent=2))


@cache_app.command("clear")
def cache_clear(cache_dir: Optional[Path] = CacheDirOpt) -> None:
    """Delete every cached result."""
    from agent.cache import ResultCache
    from agent.settings import Settings

    n = ResultCache(cache_dir or Settings().cache_dir).clear()
    typer.echo(f"removed {n} entries")


@cache_app.command("explain")
def cache_explain(
    inputs: list[Path] = typer.Argument(..., help="Digest file(s) holding the paper"),
    paper_id: str = typer.Option(..., "--id", help="arXiv id of the paper"),
    backend: Optional[str] = BackendOpt,
    model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    taxonomy: Optional[Path] = TaxonomyOpt,
    mode: Optional[str] = typer.Option(None, "--mode"),
    temperature: Optional[float] = typer.Option(None, "--temperature"),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens"),
    cache_dir: Optional[Path] = CacheDirOpt,
) -> None:
    """Print a paper's cache key, its components, and whether it is cached."""
    from agent.ingest import iter_papers

    paper = next((p for p in iter_papers(inputs) if p.id == paper_id), None)
    if paper is None:
        raise PaperAgentError(f"paper {paper_id} not found in {', '.join(map(str, inputs))}")
    agent = _agent(backend=backend, model=model, base_url=base_url, taxonomy=taxonomy, mode=mode,
                   temperature=temperature, max_tokens=max_tokens, cache_dir=cache_dir)  # fmt: skip
    typer.echo(json.dumps(agent.explain(paper), indent=2))


# ---------------------------------------------------------------------------- eval


@eval_app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="Labelled JSONL (default: built-in seed dataset)"),
    results: Optional[Path] = typer.Option(None, "--results", help="Score this results file; call no model"),
    out: Path = typer.Option(Path("eval-out"), "-o", "--out", help="Folder for metrics.json, report.md, report.html"),
    backend: Optional[str] = BackendOpt,
    model: Optional[str] = ModelOpt,
    base_url: Optional[str] = BaseUrlOpt,
    taxonomy: Optional[Path] = TaxonomyOpt,
    mode: Optional[str] = typer.Option(None, "--mode", help="tools | json"),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", "-j"),
    no_cache: bool = typer.Option(False, "--no-cache"),
    cache_dir: Optional[Path] = CacheDirOpt,
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
        agent = _agent(backend=backend, model=model, base_url=base_url, taxonomy=taxonomy, mode=mode,
                       concurrency=concurrency, cache=not no_cache, cache_dir=cache_dir)  # fmt: skip
        if agent.notice:
            err.print(f"[yellow]note:[/] {agent.notice}", highlight=False, soft_wrap=True)
        try:
            report, paths = run_eval(agent, dataset, out, seed=seed)
        finally:
            agent.close()
    acc, f1 = report.accuracy, report.macro_f1
    typer.echo(
        f"accuracy {acc.value:.3f} [95% CI {acc.ci_low:.3f}, {acc.ci_high:.3f}]  "
        f"macro-F1 {f1.value:.3f} [{f1.ci_low:.3f}, {f1.ci_high:.3f}]  n={report.n}"
    )
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")


@eval_app.command("compare")
def eval_compare(
    run_a: Path = typer.Argument(..., help="Eval folder or results JSONL (baseline)"),
    run_b: Path = typer.Argument(..., help="Eval folder or results JSONL (candidate)"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="Labelled JSONL (default: built-in seed dataset)"),
    out: Path = typer.Option(Path("compare-out"), "-o", "--out", help="Folder for compare.md and compare.json"),
    taxonomy: Optional[Path] = TaxonomyOpt,
) -> None:
    """Side-by-side metrics, McNemar test, paired bootstrap, and every paper whose label changed."""
    from agent.evaluate import compare, format_comparison_text, load_dataset, write_comparison
    from agent.evaluate.runner import default_dataset
    from agent.taxonomy import load_taxonomy

    comp = compare(run_a, run_b, load_dataset(dataset or default_dataset()), taxonomy=load_taxonomy(taxonomy))
    typer.echo(format_comparison_text(comp))
    for name, path in write_comparison(comp, out).items():
        typer.echo(f"{name}: {path}")


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
