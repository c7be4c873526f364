"""``paper-agent label`` and ``paper-agent train``: make hand labels, fit the offline model on them."""

from __future__ import annotations

from pathlib import Path

import typer

from agent.cli.common import BackendOpt, CacheDirOpt, ModelFileOpt, TaxonomyOpt, app, err, make_agent, setup_logging
from agent.errors import ConfigError


@app.command()
def label(
    inputs: list[Path] = typer.Argument(..., help="Digests, JSONL, Atom files or folders to pick papers from"),
    out: Path = typer.Option(..., "-o", "--out", help="Labels JSONL (appended; re-run with it to resume)"),
    taxonomy: Path | None = TaxonomyOpt,
    order: str = typer.Option(
        "uncertain",
        "--order",
        help="uncertain (least confident first: training) | random (an eval set) | input",
    ),
    seed: int = typer.Option(0, "--seed", help="Shuffle seed for --order random"),
    backend: str | None = BackendOpt,
    model_file: Path | None = ModelFileOpt,
    cache_dir: Path | None = CacheDirOpt,
) -> None:
    """Label papers by hand in the terminal, one key per label; writes the dataset format eval/train read."""
    import sys

    from agent.cli.label_ui import run_ui
    from agent.inputs import load_papers
    from agent.labeling import ORDERS, LabelSession, candidates

    setup_logging(False)
    if order not in ORDERS:
        raise ConfigError(f"--order {order!r}: expected one of {', '.join(ORDERS)}")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("paper-agent label needs a terminal (stdin and stdout)")
    agent = make_agent(backend=backend or "offline", taxonomy=taxonomy, model_file=model_file, cache_dir=cache_dir)
    try:
        ordered = candidates(load_papers(inputs), agent, order, seed)
    finally:
        agent.close()
    session = LabelSession.open(ordered, agent.taxonomy, out)
    run_ui(session, backend_name=f"{agent.backend.name} {getattr(agent.backend, 'model', '')}".strip())
    err.print(
        f"{session.labelled} labelled this session, {session.already + session.labelled} in {out}; "
        f"{max(len(session.queue) - session.pos, 0)} left",
        highlight=False,
    )


@app.command()
def train(
    datasets: list[str] = typer.Option(
        ..., "--dataset", help="Labelled JSONL (repeatable; also seeds | dev): what `label` writes"
    ),
    out: Path = typer.Option(..., "-o", "--out", help="Model file to write (JSON, read with --model-file)"),
    taxonomy: Path | None = TaxonomyOpt,
) -> None:
    """Fit the offline model for a taxonomy on hand labels (needs the [train] extra)."""
    from agent.errors import OutputError
    from agent.training import dumps, train_model

    model = train_model(datasets, taxonomy, log=lambda line: err.print(line, highlight=False, markup=False))
    try:
        out.write_text(dumps(model), encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write model ({exc.strerror or exc})") from None
    cv = model["cv"]
    typer.echo(
        f"wrote {out}: {model['n_train']} papers, {len(model['weights'])} features, labels "
        f"{', '.join(model['labels'])}; cross-validated accuracy {cv['accuracy']:.3f}, macro-F1 {cv['macro_f1']:.3f}"
    )
