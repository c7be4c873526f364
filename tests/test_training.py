"""``paper-agent train`` / ``agent.train_model`` for a custom taxonomy, and ``--model-file``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent import Agent, ConfigError, DatasetError, Paper, load_taxonomy, train_model
from agent.backends.offline import OfflineBackend
from agent.training import dumps

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "evals" / "ir_topics"
IR_TOPICS = EXAMPLES / "ir_topics.toml"
TRAIN = EXAMPLES / "train.jsonl"
HELDOUT = EXAMPLES / "heldout.jsonl"
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs the train extra")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env_args = [sys.executable, "-m", "agent.cli", *args]
    return subprocess.run(env_args, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def ir_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "ir.json"
    out.write_text(dumps(train_model([TRAIN], IR_TOPICS, log=lambda _: None)), encoding="utf-8")
    return out


@needs_sklearn
def test_train_fits_a_custom_taxonomy_and_records_it(tmp_path: Path) -> None:
    proc = cli("train", "--dataset", str(TRAIN), "--taxonomy", str(IR_TOPICS), "-o", "m.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "macro-F1" in proc.stderr and "±" in proc.stderr  # the CV report with its spread
    model = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    assert model["labels"] == load_taxonomy(IR_TOPICS).names
    assert model["taxonomy"] == load_taxonomy(IR_TOPICS).tag
    assert model["trained_on"] == ["train.jsonl"] and model["n_train"] == 60


@needs_sklearn
def test_the_offline_backend_uses_the_model_file_for_its_taxonomy(ir_model: Path) -> None:
    taxonomy = load_taxonomy(IR_TOPICS)
    assert OfflineBackend(taxonomy).model.startswith("cue-scorer-")
    backend = OfflineBackend(taxonomy, model_file=ir_model)
    assert backend.model.startswith("linear-")
    agent = Agent(backend="offline", taxonomy=IR_TOPICS, model_file=ir_model, cache=False)
    (result,) = agent.analyze_many(
        [
            Paper(
                id="2501.1",
                title="Feature interaction networks for click-through rate prediction",
                abstract="We propose a CTR model.",
            )
        ]
    )
    assert result.primary == "ctr_prediction"


@needs_sklearn
def test_a_model_for_another_taxonomy_is_refused_in_one_line(ir_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trained for labels llm_as_judge, ctr_prediction"):
        OfflineBackend(load_taxonomy(), model_file=ir_model)
    proc = cli(
        "run",
        str(EXAMPLES / "cs_ir_digest_2025-11-18.md"),
        "--backend",
        "offline",
        "--model-file",
        str(ir_model),
        "--no-cache",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not this taxonomy's rag" in proc.stderr


def test_a_bad_model_file_is_one_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.json: model file is not valid JSON"):
        OfflineBackend(load_taxonomy(), model_file=bad)
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a paper-agent model file"):
        OfflineBackend(load_taxonomy(), model_file=bad)
    with pytest.raises(ConfigError, match="model file not found"):
        OfflineBackend(load_taxonomy(), model_file=tmp_path / "none.json")


def test_the_model_file_setting_is_read_and_blank_means_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from agent.settings import Settings

    monkeypatch.setenv("PAPER_AGENT_MODEL_FILE", "")
    assert Settings().model_file is None
    monkeypatch.setenv("PAPER_AGENT_MODEL_FILE", str(tmp_path / "none.json"))
    with pytest.raises(ConfigError, match="none.json: model file not found"):
        Agent(backend="offline", cache=False)


@needs_sklearn
def test_rare_labels_warn_and_missing_ones_are_refused(tmp_path: Path) -> None:
    lines: list[str] = []
    train_model([HELDOUT], IR_TOPICS, log=lines.append)  # 3 ctr_prediction papers
    assert "warning: label ctr_prediction has only 3 example(s); 5+ are needed to learn it" in lines
    no_ctr = tmp_path / "no_ctr.jsonl"
    no_ctr.write_text(
        "".join(
            line + "\n" for line in HELDOUT.read_text(encoding="utf-8").splitlines() if '"ctr_prediction"' not in line
        ),
        encoding="utf-8",
    )
    with pytest.raises(DatasetError, match="no training example for label.s. ctr_prediction"):
        train_model([no_ctr], IR_TOPICS, log=lines.append)


def test_train_without_scikit_learn_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.training

    real = importlib.util.find_spec
    monkeypatch.setattr(
        agent.training.importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"needs the \[train\] extra: pip install 'paper-agent\[train\]'"):
        train_model([TRAIN], IR_TOPICS)
