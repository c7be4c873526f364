"""The shipped labelled splits and the offline model fitted on them.

These guard the promises the README makes about the numbers: dev and test never overlap (and
never overlap the seeds), every label has test support, the built-in names resolve to the
files in the wheel, and the shipped model is exactly what the training script rebuilds from
``evals/dev.jsonl``, so nobody can hand-edit weights or fit them on test unnoticed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from agent import Agent, DatasetError, Paper, load_dataset, load_taxonomy
from agent.backends.linear import LinearModel
from agent.backends.offline import OfflineBackend
from agent.evaluate.runner import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]
EVALS = ROOT / "evals"
LABELS = ("rag", "generative_rec", "rl_rec", "debiasing", "other")


def test_builtin_names_resolve_to_the_shipped_files(tmp_path: Path) -> None:
    for name, file in (("seeds", "seed_dataset.jsonl"), ("dev", "dev.jsonl"), ("test", "test.jsonl")):
        info = resolve_dataset(name)
        assert info.name == name
        assert info.path.read_bytes() == (EVALS / file).read_bytes()
    assert resolve_dataset(None).name == "test"
    mine = tmp_path / "mine.jsonl"
    mine.write_text("", encoding="utf-8")
    assert (resolve_dataset(mine).name, resolve_dataset(mine).path) == ("mine.jsonl", mine)


def test_an_unknown_dataset_name_lists_the_built_in_ones() -> None:
    with pytest.raises(
        DatasetError, match=r"nosuch: no such dataset file \(the built-in datasets are seeds, dev, test\)"
    ):
        resolve_dataset("nosuch")


def test_splits_are_disjoint_and_every_label_has_test_support() -> None:
    dev, test, seeds = (load_dataset(EVALS / f) for f in ("dev.jsonl", "test.jsonl", "seed_dataset.jsonl"))
    dev_ids, test_ids, seed_ids = ({it.id for it in d} for d in (dev, test, seeds))
    assert not dev_ids & test_ids
    assert not (dev_ids | test_ids) & seed_ids
    assert len(test) >= 250
    counts = Counter(it.primary for it in test)
    # 30 each when drawn; GRACE (2510.04506) later left rl_rec by a written guide rule.
    assert all(counts[label] >= (29 if label == "rl_rec" else 30) for label in LABELS), counts
    overall = Counter(it.primary for it in [*dev, *test])
    assert all(overall[label] >= (39 if label == "rl_rec" else 40) for label in LABELS), overall
    assert sum(bool(it.reference_tldr) for it in [*dev, *test]) >= 150


def test_no_paper_is_in_two_splits_under_two_ids() -> None:
    """The same abstract, whitespace aside (dev 2509.13888 was test 2509.13879 with a URL spaced
    differently and a final period), would leak a test paper into the model's fitting."""
    spec = importlib.util.spec_from_file_location("build_splits", EVALS / "scripts" / "build_splits.py")
    assert spec is not None and spec.loader is not None
    build_splits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_splits)
    first: dict[str, str] = {}
    for name in ("test.jsonl", "dev.jsonl", "seed_dataset.jsonl"):
        for item in load_dataset(EVALS / name):
            key = build_splits.abstract_key(item.abstract)
            assert key not in first, f"{item.id} in {name} repeats {first[key]}"
            first[key] = item.id
    assert build_splits.abstract_key("See https: //x.org/a .") == build_splits.abstract_key("see https://x.org/a")


def test_labels_corrected_after_the_split_are_the_shipped_labels() -> None:
    fixes = json.loads((EVALS / "scripts" / "adjudications.json").read_text(encoding="utf-8"))["_after_split"]
    shipped = {it.id: it for name in ("dev.jsonl", "test.jsonl") for it in load_dataset(EVALS / name)}
    for pid, fix in fixes.items():
        if not pid.startswith("_"):
            assert (shipped[pid].primary, shipped[pid].secondary) == (fix["primary"], fix["secondary"]), pid


def test_reference_tldrs_follow_the_guide() -> None:
    for item in load_dataset(EVALS / "test.jsonl") + load_dataset(EVALS / "dev.jsonl"):
        if item.reference_tldr:
            assert len(item.reference_tldr.split()) <= 50, item.id


def test_provenance_lists_every_labelled_paper_with_its_split() -> None:
    rows = (EVALS / "provenance.csv").read_text(encoding="utf-8").splitlines()[1:]
    split = {line.split(",")[0]: line.split(",")[2] for line in rows}
    for name in ("dev", "test"):
        for item in load_dataset(EVALS / f"{name}.jsonl"):
            assert split[item.id] == name


def test_default_taxonomy_uses_the_fitted_model_and_a_custom_one_the_cue_scorer(tmp_path: Path) -> None:
    taxonomy = load_taxonomy()
    assert OfflineBackend(taxonomy).model.startswith("linear-")
    edited = tmp_path / "tax.toml"
    text = (ROOT / "prompts" / "taxonomy.toml").read_text(encoding="utf-8")
    edited.write_text(text.replace('"GraphRAG",', '"GraphRAG", "RAG-Fusion",', 1), encoding="utf-8")
    assert OfflineBackend(load_taxonomy(edited)).model.startswith("cue-scorer-")


def test_model_weights_are_part_of_the_cache_key() -> None:
    taxonomy = load_taxonomy()
    shipped = LinearModel.load()
    data = json.loads((ROOT / "agent" / "data" / "offline_model.json").read_text(encoding="utf-8"))
    data["intercept"] = [w + 1.0 for w in data["intercept"]]
    other = LinearModel(data)
    a = OfflineBackend(taxonomy, shipped).cache_components()
    b = OfflineBackend(taxonomy, other).cache_components()
    assert a != b


def test_confidence_is_calibrated_probability_in_range() -> None:
    agent = Agent(backend="offline", cache=False)
    results = agent.analyze_many(
        [
            Paper(
                id="2501.00001",
                title="GraphRAG for multi-hop question answering",
                abstract="We propose a retrieval-augmented generation framework that retrieves knowledge graph paths "
                "and feeds them to an LLM to answer multi-hop questions. Experiments show gains.",
            ),
            Paper(
                id="2501.00002",
                title="A study of CTR prediction features",
                abstract="We study feature interactions for click-through rate prediction in advertising systems.",
            ),
        ]
    )
    first, second = list(results)
    assert first.primary == "rag" and 0.0 < first.confidence <= 1.0
    assert second.primary == "other" and 0.0 < second.confidence <= 1.0


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs the train extra (scikit-learn)")
def test_paper_agent_train_rebuilds_the_shipped_model_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "train",
            "--dataset",
            str(EVALS / "dev.jsonl"),
            "--dataset",
            str(EVALS / "seed_dataset.jsonl"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (ROOT / "agent" / "data" / "offline_model.json").read_bytes()
