"""``paper-agent eval`` and ``eval compare``: score a run against hand labels, compare two runs."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.common import (
    BackendOpt,
    BaseUrlOpt,
    CacheDirOpt,
    ModelFileOpt,
    ModelOpt,
    TaxonomyOpt,
    eval_app,
    make_agent,
    note,
    setup_logging,
)

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
    model_file: Path | None = ModelFileOpt,
    mode: str | None = typer.Option(None, "--mode", help="auto | json | json_object_schema | tools | json_object"),
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

    setup_logging(False)
    if results is not None:
        report, paths = score_file(results, dataset, out, taxonomy=load_taxonomy(taxonomy), seed=seed)
    else:
        agent = make_agent(
            backend=backend,
            model=model,
            base_url=base_url,
            taxonomy=taxonomy,
            model_file=model_file,
            mode=mode,
            concurrency=concurrency,
            cache=not no_cache,
            cache_dir=cache_dir,
        )
        if agent.notice:
            note(agent.notice)
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
