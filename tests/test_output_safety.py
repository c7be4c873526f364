"""Hostile paper text never becomes live content in an output, and the output format is the
one the user asked for (or the one the file name says)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from agent import Agent, ConfigError, Paper, PaperResult, triage
from agent.evaluate import DatasetItem, evaluate
from agent.evaluate.report import render_html
from agent.evaluate.report import render_markdown as render_eval_markdown
from agent.schema import MAX_EVIDENCE_CHARS, MAX_TLDR_CHARS

HOSTILE = """\
### [<script>alert(1)</script> Dense Retrieval](https://arxiv.org/abs/2501.00001)
*<b>Mallory</b>, =HYPERLINK("http://evil")*

Abstract: We propose <img src=x onerror=alert(1)> a dense retrieval model with <script>alert(2)</script> tricks.

### [=1+2 Formula Title](https://arxiv.org/abs/2501.00002)
*@Mallory*

Abstract: -2+3 We propose a retrieval-augmented generation pipeline.
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.md"
    path.write_text(HOSTILE, encoding="utf-8")
    return path


def run(inputs: list[Path], output: Path, fmt: str | None = None) -> None:
    with Agent(backend="offline") as agent:
        triage(inputs, agent, output=output, fmt=fmt)


# --------------------------------------------------------------------------- 5. CSV formula injection

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_text_cells_never_start_with_a_formula_character(hostile, tmp_path):
    run([hostile], tmp_path / "out.csv", fmt="csv")
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[1]["title"] == "'=1+2 Formula Title"
    assert rows[1]["authors"] == "'@Mallory"
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(TRIGGERS), (column, value)


def test_csv_numbers_are_left_as_numbers(tmp_path):
    from agent.outputs import flatten

    row = flatten(PaperResult(id="2501.00001", title="-1 and +1", confidence=0.5, tldr="\tTabbed"))
    assert (row["title"], row["tldr"], row["confidence"]) == ("'-1 and +1", "'\tTabbed", 0.5)


# --------------------------------------------------------------------------- 6. Markdown/HTML escaping


def test_markdown_reading_list_has_no_raw_html_from_papers(hostile, tmp_path):
    run([hostile], tmp_path / "out.jsonl")
    tldr = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["tldr"]
    assert "<img" in tldr  # the TL;DR really carries the abstract's HTML
    run([hostile], tmp_path / "out.md", fmt="md")
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    for raw in ("<script", "<img", "<b>"):
        assert raw not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md and "&lt;script&gt;" in md


def test_eval_markdown_report_escapes_html_in_titles():
    items = [DatasetItem(id="2501.00001", title="<img src=x onerror=alert(1)>", abstract="We.", primary="rag")]
    results = [PaperResult(id="2501.00001", title="t", primary="rag", confidence=0.5, tldr="<script>x</script>")]
    md = render_eval_markdown(evaluate(results, items, n_boot=10))
    assert "<img" not in md and "<script" not in md


# --------------------------------------------------------------------------- 7. links in the eval report


@pytest.mark.parametrize(
    "url, linked",
    [
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("https://arxiv.org/abs/2501.00001", True),
        ("http://arxiv.org/abs/2501.00001", True),
    ],
)
def test_eval_html_links_only_http_urls(url, linked):
    items = [DatasetItem(id="2501.00001", title="T", abstract="We.", primary="rag", url=url)]
    results = [PaperResult(id="2501.00001", title="T", primary="rag", confidence=0.5, tldr="x")]
    html = render_html(evaluate(results, items, n_boot=10))
    assert ("<a href=" in html) is linked
    assert "javascript:" not in html.lower().replace("javascript:alert(1)</td>", "")  # not as href


# --------------------------------------------------------------------------- 10. output format


@pytest.mark.parametrize(
    "name, check",
    [
        ("out.csv", lambda text: text.startswith("id,title,")),
        ("out.md", lambda text: text.startswith("# paper-agent reading list")),
        ("out.jsonl", lambda text: json.loads(text.splitlines()[0])["id"] == "2501.00001"),
        ("out", lambda text: json.loads(text.splitlines()[0])["id"] == "2501.00001"),
    ],
)
def test_the_output_format_is_inferred_from_the_file_extension(invoke, hostile, tmp_path, name, check):
    proc = invoke("run", hostile, "-o", name)
    assert proc.exit_code == 0, proc.stderr
    assert check((tmp_path / name).read_text(encoding="utf-8"))


def test_an_explicit_format_wins_over_the_extension(invoke, hostile, tmp_path):
    proc = invoke("run", hostile, "-o", "out.csv", "--format", "jsonl")
    assert proc.exit_code == 0, proc.stderr
    assert json.loads((tmp_path / "out.csv").read_text().splitlines()[0])["id"] == "2501.00001"


@pytest.mark.parametrize("args", [["--format", "xml"], ["-o", "out.xml"], ["-o", "out.json"]])
def test_an_unknown_format_is_a_configuration_error_exit_2(cli, hostile, tmp_path, args):
    proc = cli("run", hostile, *args)
    assert proc.returncode == 2, proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "format" in line and "jsonl, csv, md" in line
    assert not list(tmp_path.glob("out.*"))


def test_an_unknown_format_fails_before_any_paper(hostile):
    seen: list = []
    with Agent(backend="offline") as agent, pytest.raises(ConfigError):
        triage([hostile], agent, output="out.txt", on_result=seen.append)
    assert seen == []


# --------------------------------------------------------------------------- 12. huge abstracts


def test_an_abstract_without_spaces_gives_a_tldr_and_evidence_capped_in_characters():
    blob = "We propose " + "x" * 1_000_000
    with Agent(backend="offline", cache=False) as agent:
        result = agent.analyze(Paper(id="2501.00001", title="Big", abstract=blob))
    assert result.status == "ok"
    assert 0 < len(result.tldr) <= MAX_TLDR_CHARS
    assert 0 < len(result.evidence) <= MAX_EVIDENCE_CHARS
    assert result.evidence in blob  # still verbatim


def test_the_eval_report_title_is_the_dataset_name_not_its_path(tmp_path):
    items = [DatasetItem(id="2501.00001", title="T", abstract="We.", primary="rag")]
    results = [PaperResult(id="2501.00001", title="T", primary="rag", confidence=0.5, tldr="x")]
    report = evaluate(results, items, n_boot=10, dataset_name=str(tmp_path / "site-packages" / "seeds.jsonl"))
    assert "<h1>paper-agent eval: seeds.jsonl</h1>" in render_html(report)
    assert "site-packages" not in render_eval_markdown(report)


def test_comparison_markdown_escapes_html_in_titles():
    from agent.evaluate import compare
    from agent.evaluate.compare import render_comparison_markdown

    items = [DatasetItem(id=i, title=f"<img src=x onerror=alert({i})>", abstract="We.", primary="rag") for i in "12"]
    run_a = [PaperResult(id=i, title="t", primary="rag", confidence=0.5) for i in "12"]
    run_b = [PaperResult(id=i, title="t", primary="other", confidence=0.5) for i in "12"]
    md = render_comparison_markdown(compare(run_a, run_b, items, n_boot=10))
    assert "Changed answers (2)" in md and "<img" not in md and "&lt;img" in md


def test_an_eval_run_that_fails_midway_does_not_publish_results_jsonl(tmp_path):
    from agent.evaluate.runner import run_eval

    class Stop(Exception):
        pass

    seen: list = []

    def stop_at_the_third(result):
        seen.append(result)
        if len(seen) == 3:
            raise Stop

    with Agent(backend="offline") as agent, pytest.raises(Stop):
        run_eval(agent, None, tmp_path / "ev", on_result=stop_at_the_third)
    assert not (tmp_path / "ev" / "results.jsonl").exists()
    assert len((tmp_path / "ev" / "results.jsonl.partial").read_text().splitlines()) == 2
