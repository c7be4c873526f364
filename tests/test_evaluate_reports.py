"""Dataset/results files in, report and comparison files out."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html import unescape
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
from agent.evaluate.metrics import HARDEST_MAX, HumanAgreement
from agent.evaluate.report import render_html, render_markdown
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
        load_results(write_jsonl(tmp_path / "r.jsonl", [good, json.dumps({"id": "2", "title": "t", "status": "??"})]))


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
    assert "offline baseline, not an LLM" in paths["html"].read_text()
    assert "offline baseline, not an LLM" not in render_html(small_report())


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
    assert {p.name for p in (tmp_path / "cmp").iterdir()} == {"compare.md", "compare.json", "compare.html"}
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


# --------------------------------------------------------------------------- hardest papers, pictures, agreement

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(1)</script>"


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG of a page, parsed as XML (fails on anything malformed or unescaped)."""
    return [ET.fromstring(m) for m in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def hardest_ids(html: str) -> list[str]:
    table = re.search(r'<table class="hardest">.*?</table>', html, re.S)
    assert table is not None
    return re.findall(r'<tr><td class="n">[\d.]+</td><td>([^<]*)</td>', table.group(0))


def error_report(title: str = "") -> EvalReport:
    """Four papers: two confident mistakes, one right, one with no answer."""
    notes = {"1": "close call rag vs other", "2": "", "3": "", "4": "benchmark paper"}
    items = [
        DatasetItem(
            id=pid,
            title=title or f"Paper {pid}",
            abstract="We propose X.",
            primary="rag",
            secondary=["other"] if pid == "1" else [],
            notes=notes[pid],
            url=f"https://arxiv.org/abs/{pid}",
        )
        for pid in "1234"
    ]
    results = [
        result("1", "other").model_copy(update={"confidence": 0.6, "evidence": "a survey of methods"}),
        result("2", "other").model_copy(update={"confidence": 0.9, "evidence": "click logs"}),
        result("3", "rag"),
        result("4", None, status="error").model_copy(update={"error": "timeout"}),
    ]
    return evaluate(results, items, n_boot=50, dataset_name="toy")


def test_hardest_papers_list_wrong_answers_most_confident_first_with_gold_notes() -> None:
    report = error_report()
    html, md = render_html(report), render_markdown(report)
    assert hardest_ids(html) == ["2", "1", "4"]
    assert "close call rag vs other" in html and "a survey of methods" in html and "timeout" in html
    assert '<a href="https://arxiv.org/abs/2">Paper 2</a>' in html
    assert "Hardest papers: 3 wrong answers of 4 papers, most confident first" in md
    assert ("| 0.60 | 1 | Paper 1 | rag (+ other) | other | a survey of methods | close call rag vs other |") in md
    assert md.index("| 0.90 | 2 |") < md.index("| 0.60 | 1 |") < md.index("| 0.00 | 4 |")


def test_hardest_papers_are_capped_and_say_how_many_were_wrong() -> None:
    items = [item(str(i), "rag") for i in range(HARDEST_MAX + 5)]
    report = evaluate([result(str(i), "other") for i in range(HARDEST_MAX + 5)], items, n_boot=10)
    html = render_html(report)
    assert len(hardest_ids(html)) == HARDEST_MAX
    assert f"the {HARDEST_MAX} most confident of {HARDEST_MAX + 5} wrong answers" in html


def test_html_draws_heat_map_reliability_diagram_and_f1_bars() -> None:
    report = error_report()
    pictures = svgs(render_html(report))
    titles = [svg.find(f"{SVG}title").text for svg in pictures]
    assert len(pictures) == 3 and all(titles)
    heat = pictures[0]
    cells = heat.findall(f".//{SVG}g[@class='cell']")
    assert len(cells) == len(report.confusion.rows) * len(report.confusion.columns)
    counts = {c.get("data-predicted"): c.find(f"{SVG}text").text for c in cells if c.get("data-gold") == "rag"}
    assert counts == {"rag": "1", "other": "2", NO_ANSWER: "1"}
    assert f"ECE {report.ece:.3f}" in render_html(report)


def test_a_script_title_is_escaped_in_every_table_and_picture() -> None:
    report = error_report(title=EVIL)
    html = render_html(report)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(svgs(html)) == 3
    md = render_markdown(report)
    hardest = md[md.index("## Hardest papers") : md.index("## Papers")]
    assert "<script>" not in hardest and "&lt;script&gt;" in hardest


def test_markdown_stays_plain_text_with_f1_ci_column() -> None:
    md = render_markdown(error_report())
    assert "<svg" not in md
    assert "| label | precision | recall | F1 | F1 95% CI | support | predicted |" in md


def test_human_agreement_is_shown_beside_the_backends_kappa() -> None:
    items = [item("1", "rag"), item("2", "other")]
    human = HumanAgreement(kappa=0.78, agreement=0.85, n=80)
    report = evaluate(
        [result("1", "rag"), result("2", "other")],
        items,
        n_boot=10,
        human_agreement=human,
        dataset_description="frozen test split",
    )
    line = (
        "Human agreement (Cohen's kappa between two annotators, n=80): 0.780 (raw agreement 85.0%). "
        "This backend's Cohen's kappa against gold on this dataset (n=2): 1.000."
    )
    for text in (render_markdown(report), unescape(render_html(report))):
        assert line in text and "Dataset: frozen test split" in text
    assert "Human agreement" not in render_html(small_report())
    assert "Cohen's kappa" in unescape(render_html(small_report()))  # the backend's own, in the headline


def test_compare_html_shows_both_runs_side_by_side(tmp_path: Path) -> None:
    comp = compare(RUN_A, RUN_B, [item("1", "rag", EVIL), *ITEMS[1:]], n_boot=50)
    html = write_comparison(comp, tmp_path)["html"].read_text(encoding="utf-8")
    assert "<b>A</b>: &lt;results&gt;" in html and "<b>B</b>: &lt;results&gt;" in html
    assert "<script>" not in html
    f1, rel_a, rel_b = svgs(html)
    assert [t.text for t in f1.findall(f"{SVG}text[@class='legend']")] == ["A", "B"]
    assert len(f1.findall(f"{SVG}rect[@class='bar']")) == 2 * len(comp.breakdown_a.per_class)
    assert "run A" in rel_a.find(f"{SVG}title").text and "run B" in rel_b.find(f"{SVG}title").text
    assert "Changed answers (2)" in html
