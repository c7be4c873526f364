"""``paper-agent eval`` as one function: run the agent over a dataset, save, score, report.

The run goes through the cache like any other, so re-running an eval is free; the scored
results are saved beside the reports (``results.jsonl``) so any later change to the metrics
can be recomputed, and ``compare`` can pair two runs paper by paper.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from agent.evaluate.dataset import check_labels, dataset_papers, load_dataset, load_results
from agent.evaluate.metrics import EvalReport, evaluate
from agent.evaluate.report import write_reports
from agent.outputs import JsonlWriter
from agent.pipeline import Agent
from agent.schema import PaperResult
from agent.taxonomy import Taxonomy


def default_dataset() -> Path:
    """The 40 hand-labelled seed papers (``evals/seed_dataset.jsonl``, shipped in the wheel)."""
    return Path(str(resources.files("agent").joinpath("data/seed_dataset.jsonl")))


def run_eval(
    agent: Agent,
    dataset: str | Path | None = None,
    out_dir: str | Path = "eval-out",
    *,
    seed: int = 0,
    on_result: Callable[[PaperResult], None] | None = None,
) -> tuple[EvalReport, dict[str, Path]]:
    """Run ``agent`` on every dataset paper, save ``results.jsonl``, score it, write reports."""
    path = Path(dataset) if dataset is not None else default_dataset()
    items = load_dataset(path)
    check_labels(items, agent.taxonomy, str(path))
    out = Path(out_dir)
    writer = JsonlWriter(out / "results.jsonl")
    results: list[PaperResult] = []
    try:
        for result in agent.analyze_many(dataset_papers(items), on_result=on_result):
            writer.write(result)
            results.append(result)
    except BaseException:
        # An unfinished run keeps its rows in results.jsonl.partial, never under the final name.
        if results:
            writer.fail()
        else:
            writer.abort()
        raise
    writer.close()
    report = evaluate(results, items, taxonomy=agent.taxonomy, seed=seed, dataset_name=str(path))
    paths = write_reports(report, out)
    paths["results"] = out / "results.jsonl"
    return report, paths


def score_file(
    results: str | Path,
    dataset: str | Path | None = None,
    out_dir: str | Path = "eval-out",
    *,
    taxonomy: Taxonomy | None = None,
    seed: int = 0,
) -> tuple[EvalReport, dict[str, Path]]:
    """Score an existing results file without calling any model."""
    path = Path(dataset) if dataset is not None else default_dataset()
    items = load_dataset(path)
    scored = load_results(results)
    report = evaluate(scored, items, taxonomy=taxonomy, seed=seed, dataset_name=str(path))
    out = Path(out_dir)
    paths = write_reports(report, out)
    if Path(results).resolve() != (out / "results.jsonl").resolve():
        writer = JsonlWriter(out / "results.jsonl")
        try:
            for r in scored:
                writer.write(r)
        finally:
            writer.close()
    paths["results"] = out / "results.jsonl"
    return report, paths
