"""``paper-agent eval`` as one function: run the agent over a dataset, save, score, report.

The run goes through the cache like any other, so re-running an eval is free; the scored
results are saved beside the reports (``results.jsonl``) so any later change to the metrics
can be recomputed, and ``compare`` can pair two runs paper by paper.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agent.errors import DatasetError
from agent.evaluate.dataset import check_labels, dataset_papers, load_dataset
from agent.evaluate.metrics import EvalReport, HumanAgreement, evaluate
from agent.evaluate.report import write_reports
from agent.outputs import JsonlWriter, load_results
from agent.pipeline import Agent
from agent.schema import PaperResult
from agent.taxonomy import Taxonomy

# The labelled sets shipped in the wheel (``evals/`` in the source tree), by the name
# ``paper-agent eval --dataset`` takes. ``test`` is the default: it is the frozen split nothing
# was fitted on, so its figures are the ones that predict accuracy on new papers.
BUILTIN_DATASETS = {"seeds": "seed_dataset.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}
DEFAULT_DATASET = "test"


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives and what a reader of its scores must know about it."""

    name: str
    path: Path
    description: str = ""
    human_agreement: dict[str, Any] | None = None

    def report_fields(self) -> dict[str, Any]:
        """What ``evaluate`` writes into the report about the dataset: the reader must know
        which set a figure comes from and how far two humans agree on it."""
        agreement = HumanAgreement.model_validate(self.human_agreement) if self.human_agreement else None
        return {"dataset_name": self.name, "dataset_description": self.description, "human_agreement": agreement}


def _data_file(name: str) -> Path:
    return Path(str(resources.files("agent").joinpath(f"data/{name}")))


def resolve_dataset(spec: str | Path | None = None) -> DatasetInfo:
    """``seeds``, ``dev``, ``test`` (the shipped sets) or a path to a labelled JSONL file."""
    name = DEFAULT_DATASET if spec is None else str(spec)
    if name in BUILTIN_DATASETS:
        meta = json.loads(_data_file("datasets.json").read_text(encoding="utf-8")).get(name, {})
        return DatasetInfo(
            name=name,
            path=_data_file(BUILTIN_DATASETS[name]),
            description=meta.get("description", ""),
            human_agreement=meta.get("human_agreement"),
        )
    path = Path(name)
    if not path.exists():
        raise DatasetError(f"{name}: no such dataset file (the built-in datasets are {', '.join(BUILTIN_DATASETS)})")
    return DatasetInfo(name=path.name, path=path)


def default_dataset() -> Path:
    """The default labelled set (``test``), as shipped in the wheel."""
    return resolve_dataset().path


def run_eval(
    agent: Agent,
    dataset: str | Path | None = None,
    out_dir: str | Path = "eval-out",
    *,
    seed: int = 0,
    on_result: Callable[[PaperResult], None] | None = None,
) -> tuple[EvalReport, dict[str, Path]]:
    """Run ``agent`` on every dataset paper, save ``results.jsonl``, score it, write reports."""
    info = resolve_dataset(dataset)
    items = load_dataset(info.path)
    check_labels(items, agent.taxonomy, str(info.path))
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
    report = evaluate(results, items, taxonomy=agent.taxonomy, seed=seed, **info.report_fields())
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
    info = resolve_dataset(dataset)
    items = load_dataset(info.path)
    scored = load_results(results)
    report = evaluate(scored, items, taxonomy=taxonomy, seed=seed, **info.report_fields())
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
