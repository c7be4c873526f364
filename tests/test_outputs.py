"""JSONL, CSV and Markdown writers through ``triage()``, and what an interrupted run leaves."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from agent import Agent, ConfigError, OutputError, PaperResult, load_papers, triage

FIXTURES = Path(__file__).parent / "fixtures"

SMALL_DIGEST = """\
### [1] [Retrieval-Augmented Generation for Statute QA](https://arxiv.org/abs/2501.00001)
*Ada Lovelace, Alan Turing*

Abstract: We propose LexRAG, a retrieval-augmented generation pipeline for legal questions.

### [2] [Reinforcement Learning and Popularity Bias in Generative Recommendation](https://arxiv.org/abs/2501.00002)
*Grace Hopper*

Abstract: We propose a reinforcement learning method that mitigates popularity bias in generative recommendation with semantic IDs.

### [3] [A Paper Without Abstract](https://arxiv.org/abs/2501.00003)
*Nobody*

TL;DR: The digest had no abstract for this one.
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.md"
    path.write_text(SMALL_DIGEST, encoding="utf-8")
    return path


def run(inputs, output, fmt="jsonl", on_result=None):
    with Agent(backend="offline") as agent:
        return triage(inputs, agent, output=output, fmt=fmt, on_result=on_result)


def read_jsonl(path: Path) -> list[PaperResult]:
    return [PaperResult.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_rows_validate_and_follow_input_order_also_from_cache(tmp_path):
    expected = [p.id for p in load_papers(FIXTURES)]
    out = tmp_path / "out.jsonl"
    for cached in (False, True):
        stats = run([FIXTURES], out)
        rows = read_jsonl(out)
        assert [r.id for r in rows] == expected
        assert {r.cached for r in rows} == {cached}
        assert (stats.total, stats.cached) == (40, 40 if cached else 0)


def test_jsonl_records_the_triage_of_each_paper(small, tmp_path):
    run([small], tmp_path / "out.jsonl")
    rag, multi, skipped = read_jsonl(tmp_path / "out.jsonl")
    assert (rag.primary, rag.url) == ("rag", "https://arxiv.org/abs/2501.00001")
    assert rag.authors == ["Ada Lovelace", "Alan Turing"]
    assert (multi.primary, multi.secondary) == ("debiasing", ["generative_rec"])
    assert (skipped.status, skipped.primary) == ("skipped", None)
    assert "no abstract" in skipped.error


def test_csv_has_a_header_and_one_row_per_paper(small, tmp_path):
    out = tmp_path / "out.csv"
    run([small], out, fmt="csv")
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["id"] for r in rows] == ["2501.00001", "2501.00002", "2501.00003"]
    assert rows[0]["authors"] == "Ada Lovelace; Alan Turing"
    assert rows[1]["secondary"] == "generative_rec"
    assert (rows[2]["status"], rows[2]["primary"]) == ("skipped", "")
    assert out.read_text(encoding="utf-8").startswith("id,title,authors,url,primary,secondary,confidence,tldr,")


def test_csv_rows_follow_input_order(tmp_path):
    out = tmp_path / "out.csv"
    run([FIXTURES], out, fmt="csv")
    with out.open(newline="", encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == [p.id for p in load_papers(FIXTURES)]


def test_markdown_has_contents_with_counts_per_label(small, tmp_path):
    run([small], tmp_path / "out.md", fmt="md")
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    counts = dict(re.findall(r"^- \[([\w ]+)\]\(#[\w-]+\) \((\d+)\)$", md, re.M))
    assert counts == {
        "rag": "1",
        "generative_rec": "0",
        "rl_rec": "0",
        "debiasing": "1",
        "other": "0",
        "not triaged": "1",
    }
    assert md.startswith("# paper-agent reading list\n\n3 papers, triaged ")


def test_markdown_entry_has_linked_title_labels_with_confidence_and_tldr(small, tmp_path):
    run([small], tmp_path / "out.jsonl")
    multi = read_jsonl(tmp_path / "out.jsonl")[1]
    run([small], tmp_path / "out.md", fmt="md")
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert f"### [{multi.title}](https://arxiv.org/abs/2501.00002)" in md
    assert f"**Labels:** `debiasing` ({multi.confidence:.2f}) · also `generative_rec`" in md
    assert f"**TL;DR:** {multi.tldr}" in md
    assert "*Grace Hopper*" in md


def test_markdown_lists_skipped_papers_as_not_triaged(small, tmp_path):
    run([small], tmp_path / "out.md", fmt="md")
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    section = md.split("## not triaged\n", 1)[1]
    entry = (
        "- [A Paper Without Abstract](https://arxiv.org/abs/2501.00003) (arXiv:2501.00003): **skipped**: no abstract"
    )
    assert section.strip().startswith(entry)
    assert "A Paper Without Abstract" not in md.split("## not triaged\n", 1)[0].split("## Contents")[1]


def test_markdown_contents_links_match_the_heading_anchors(small, tmp_path):
    run([small], tmp_path / "out.md", fmt="md")
    md = (tmp_path / "out.md").read_text(encoding="utf-8")
    # GitHub's slug: lower case, drop punctuation except "-" and "_", spaces become "-".
    anchors = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", md, re.M)}
    links = set(re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)", md, re.M))
    assert links <= anchors


def test_while_writing_only_the_partial_file_exists(small, tmp_path):
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    states = []
    run([small], out, on_result=lambda r: states.append((out.exists(), partial.exists())))
    assert states == [(False, True)] * 3
    assert out.exists() and not partial.exists()


class Crash(Exception):
    pass


def test_a_crash_midway_keeps_finished_rows_and_the_cache_resumes(tmp_path):
    out = tmp_path / "out.jsonl"
    done = []

    def crash_on_fifth(result):
        done.append(result.id)
        if len(done) == 5:
            raise Crash

    with pytest.raises(Crash):
        run([FIXTURES], out, on_result=crash_on_fifth)
    assert not out.exists()  # an incomplete output is never published under the final name
    assert [r.id for r in read_jsonl(tmp_path / "out.jsonl.partial")] == done

    run([FIXTURES], out)
    rows = read_jsonl(out)
    assert len(rows) == 40
    assert [r.id for r in rows if r.cached] == done
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_a_crash_midway_leaves_an_earlier_complete_output_untouched(small, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("earlier complete output\n", encoding="utf-8")

    def crash(result):
        raise Crash

    with pytest.raises(Crash):
        run([small], out, on_result=crash)
    assert out.read_text(encoding="utf-8") == "earlier complete output\n"
    assert len(read_jsonl(tmp_path / "out.jsonl.partial")) == 1


def test_an_output_path_that_is_a_directory_is_an_output_error(small, tmp_path):
    (tmp_path / "results").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        run([small], tmp_path / "results")


def test_unknown_output_format_is_a_config_error(small, tmp_path):
    with pytest.raises(ConfigError, match="unknown output format 'xml'"):
        run([small], tmp_path / "out.xml", fmt="xml")


def test_cli_without_output_writes_jsonl_to_stdout_and_messages_to_stderr(cli, small):
    proc = cli("run", small)
    assert proc.returncode == 0, proc.stderr
    rows = [PaperResult.model_validate(json.loads(line)) for line in proc.stdout.splitlines()]
    assert [r.id for r in rows] == ["2501.00001", "2501.00002", "2501.00003"]
    assert "No LLM configured" in proc.stderr and "paper-agent summary" in proc.stderr
    assert "No LLM configured" not in proc.stdout and "paper-agent summary" not in proc.stdout
