"""``paper-agent eval`` end to end: run, score a file, compare two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import PaperResult

DATASET = Path(__file__).parent.parent / "evals" / "seed_dataset.jsonl"


@pytest.fixture
def offline_eval(invoke, tmp_path):
    out = tmp_path / "run-a"
    result = invoke("eval", "--dataset", DATASET, "--backend", "offline", "-o", out)
    assert result.exit_code == 0, result.output
    return out, result.output


def _results(folder: Path) -> list[PaperResult]:
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return [PaperResult.model_validate_json(line) for line in lines]


def _write(path: Path, results: list[PaperResult]) -> Path:
    path.write_text("".join(r.model_dump_json() + "\n" for r in results), encoding="utf-8")
    return path


def test_eval_writes_three_reports_and_the_results(offline_eval):
    out, output = offline_eval
    for name in ("metrics.json", "report.md", "report.html", "results.jsonl"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n"] == 40 and len(_results(out)) == 40
    assert f"accuracy {metrics['accuracy']['value']:.3f}" in output


def test_eval_html_is_self_contained(offline_eval):
    html = (offline_eval[0] / "report.html").read_text(encoding="utf-8")
    assert "<style" in html and "<link" not in html and "<script src" not in html
    assert "offline" in html and "not an LLM" in html


def test_an_invalid_result_lands_in_the_extra_column(offline_eval, invoke, tmp_path):
    results = _results(offline_eval[0])
    results[0] = results[0].model_copy(update={"status": "invalid", "primary": None, "error": "bad output"})
    out = tmp_path / "scored"
    assert (
        invoke("eval", "--dataset", DATASET, "--results", _write(tmp_path / "r.jsonl", results), "-o", out).exit_code
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    confusion = metrics["confusion"]
    extra = confusion["columns"].index("invalid/error/skipped")
    assert sum(row[extra] for row in confusion["counts"]) == 1
    assert sum(sum(row) for row in confusion["counts"]) == 40  # counted, not dropped


def test_compare_lists_exactly_the_papers_that_flipped(offline_eval, invoke, tmp_path):
    a = _results(offline_eval[0])
    flipped = {a[1].id: "rag", a[5].id: "debiasing"}
    b = [r.model_copy(update={"primary": flipped.get(r.id, r.primary)}) for r in a]
    out = tmp_path / "cmp"
    result = invoke(
        "eval", "compare", offline_eval[0], _write(tmp_path / "b.jsonl", b), "--dataset", DATASET, "-o", out
    )
    assert result.exit_code == 0, result.output
    comp = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert (out / "compare.html").is_file() and "<svg" in (out / "compare.html").read_text(encoding="utf-8")
    changed = {row["id"] for row in comp["flips"]}
    assert changed == set(flipped)
    assert all(pid in result.output for pid in flipped)
