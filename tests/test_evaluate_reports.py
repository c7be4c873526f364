"""Dataset/results files in, report and comparison files out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.errors import DatasetError
from agent.evaluate import (
    NO_ANSWER,
    DatasetItem,
    EvalReport,
    compare,
    dataset_papers,
    evaluate,
    format_comparison_text,
    load_dataset,
    load_results,
    write_comparison,
    write_reports,
)
from agent.evaluate.dataset import check_labels
from agent.evaluate.report import render_html
from agent.schema import PaperResult
from agent.taxonomy import load_taxonomy

SEED = Path(__file__).resolve().parents[1] / "evals" / "seed_dataset.jsonl"


def item(pid: str, primary: str, title: str = "") -> DatasetItem:
    return DatasetItem(id=pid, title=title or f"Paper {pid}", abstract="We propose X.", primary=primary)


def result(pid: str, primary: str | None, status: str = "ok", backend: str = "openai") -> PaperResult:
    return PaperResult(
        id=pid,
        title=f"Paper {pid}",
        primary=primary,
        status=status,
        confidence=0.7,
        tldr="Proposes X.",
        backend=backend,
        model="m1",
    )


def write_jsonl(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- dataset files


def test_seed_dataset_loads_and_matches_default_taxonomy() -> None:
    items = load_dataset(SEED)
    assert len(items) == 40
    check_labels(items, load_taxonomy())
    assert dataset_papers(items)[0].id == items[0].id


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [item("1", "a").model_dump_json(), "{not json"])
    with pytest.raises(DatasetError, match=r"d\.jsonl:2: not valid JSON"):
        load_dataset(path)


def test_missing_field_names_the_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [json.dumps({"id": "1", "title": "t", "abstract": "x"})])
    with pytest.raises(DatasetError, match=r"d\.jsonl:1: .*'primary'"):
        load_dataset(path)


def test_duplicate_dataset_id_is_an_error(tmp_path: Path) -> None:
    row = item("1", "a").model_dump_json()
    with pytest.raises(DatasetError, match=r":3: duplicate id '1' \(first on line 1\)"):
        load_dataset(write_jsonl(tmp_path / "d.jsonl", [row, "", row]))


def test_unknown_label_is_reported_with_ids() -> None:
    with pytest.raises(DatasetError, match=r"'ragg' \(ids 7\)"):
        check_labels([item("7", "ragg")], load_taxonomy())


def test_results_file_skips_blank_lines_and_rejects_bad_ones(tmp_path: Path) -> None:
    good = result("1", "a").model_dump_json()
    assert len(load_results(write_jsonl(tmp_path / "r.jsonl", ["", good, "  "]))) == 1
    with pytest.raises(DatasetError, match=r"r\.jsonl:2: invalid result record, field 'status'"):
        load_results(
            write_jsonl(tmp_path / "r.jsonl", [good, json.dumps({"id": "2", "title": "t", "status": "??"})])
        )


# --------------------------------------------------------------------------- reports


def small_report(backend: str = "openai", title: str = "") -> EvalReport:
    items = [item("1", "rag", title), item("2", "other"), item("3", "other")]
    results = [
        result("1", "rag", backend=backend),
        result("2", "rag", backend=backend),
        result("3", None, status="invalid", backend=backend),
    ]
    return evaluate(results, items, n_boot=50, dataset_name="toy")


def test_write_reports_writes_three_files(tmp_path: Path) -> None:
    paths = write_reports(small_report(), tmp_path / "out")
    assert {p.name for p in paths.values()} == {"metrics.json", "report.md", "report.html"}
    saved = EvalReport.model_validate_json(paths["json"].read_text(encoding="utf-8"))
    assert saved.accuracy.value == pytest.approx(1 / 3) and len(saved.papers) == 3


def test_html_is_self_contained_and_shows_no_answer_column(tmp_path: Path) -> None:
    html = write_reports(small_report(), tmp_path)["html"].read_text(encoding="utf-8")
    for asset in ("<link", "<script", "src=", "@import", "url("):
        assert asset not in html
    assert f'<th class="noanswer">∅ {NO_ANSWER}</th>' in html
    assert 'class="wrong"' in html and "✗" in html
    assert "backend openai, model m1" in html


def test_html_escapes_titles(tmp_path: Path) -> None:
    html = write_reports(small_report(title="<script>alert(1)</script>"), tmp_path)["html"].read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_offline_run_says_it_is_not_an_llm(tmp_path: Path) -> None:
    paths = write_reports(small_report(backend="offline"), tmp_path)
    assert "offline cue-scoring baseline, not an LLM" in paths["html"].read_text()
    assert "offline cue-scoring baseline, not an LLM" not in render_html(small_report())


def test_ungrounded_tldr_is_marked_in_html() -> None:
    items = [DatasetItem(id="1", title="T", abstract="We propose X.", primary="rag")]
    res = [PaperResult(id="1", title="T", primary="rag", tldr="Proposes X, 40% better on BEIR.")]
    html = render_html(evaluate(res, items, n_boot=10))
    assert 'class="ungrounded"' in html and "⚠ ungrounded: 40%, BEIR" in html


# --------------------------------------------------------------------------- compare

ITEMS = [item("1", "rag"), item("2", "rag"), item("3", "other"), item("4", "other")]
RUN_A = [result("1", "rag"), result("2", "other"), result("3", "other"), result("4", None, status="error")]
RUN_B = [result("1", "rag"), result("2", "rag"), result("3", "rag"), result("4", None, status="error")]


def test_compare_lists_exactly_the_flipped_papers() -> None:
    comp = compare(RUN_A, RUN_B, ITEMS, n_boot=100)
    assert [(f.id, f.a, f.b, f.gold) for f in comp.flips] == [
        ("2", "other", "rag", "rag"),
        ("3", "other", "rag", "other"),
    ]
    assert (comp.mcnemar.b, comp.mcnemar.c, comp.mcnemar.p_value) == (1, 1, 1.0)
    assert comp.accuracy_diff.value == 0.0


def test_compare_reads_eval_folder_and_results_file(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    write_jsonl(tmp_path / "a" / "results.jsonl", [r.model_dump_json() for r in RUN_A])
    b_file = write_jsonl(tmp_path / "b.jsonl", [r.model_dump_json() for r in RUN_B])
    comp = compare(tmp_path / "a", b_file, ITEMS, out_dir=tmp_path / "cmp", n_boot=50)
    assert comp.run_a.source == str(tmp_path / "a")
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {"compare.md", "compare.json"}
    metrics = {m.name: m for m in comp.metrics}
    assert metrics["accuracy"].a == pytest.approx(0.5) and metrics["accuracy"].delta == pytest.approx(0.0)


def test_compare_pairs_only_papers_both_runs_answered() -> None:
    comp = compare(RUN_A, RUN_B[:3], ITEMS, n_boot=50)
    assert comp.n_papers == 3 and comp.missing_from_b == ["4"]


def test_compare_without_shared_ids_is_an_error() -> None:
    with pytest.raises(DatasetError, match="share no paper ids"):
        compare([result("9", "rag")], RUN_B, ITEMS)


def test_comparison_text_and_files_show_flips(tmp_path: Path) -> None:
    comp = compare(RUN_A, RUN_B, ITEMS, n_boot=50)
    text = format_comparison_text(comp)
    assert "Changed answers: 2" in text and "A other ✗ -> B rag ✓" in text
    paths = write_comparison(comp, tmp_path)
    assert json.loads(paths["json"].read_text())["mcnemar"]["p_value"] == 1.0
    assert "| 3 | other | other ✓ | rag ✗ |" in paths["markdown"].read_text()
