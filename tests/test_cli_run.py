"""``paper-agent run`` and ``paper-agent cache ...`` end to end, as a user types them."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def summary_count(stderr: str, what: str) -> str:
    m = re.search(rf"{re.escape(what)}\W+(\d+(?: / \d+)?)", stderr)
    assert m, f"{what!r} not in summary:\n{stderr}"
    return m.group(1)


@pytest.fixture
def first_run(invoke):
    result = invoke("run", FIXTURES, "-o", "out.jsonl")
    assert result.exit_code == 0, result.stderr
    return result


def test_the_console_script_run_exits_0_with_one_ok_row_per_seed_paper(cli, tmp_path):
    proc = cli("run", FIXTURES, "-o", "out.jsonl")
    assert proc.returncode == 0, proc.stderr
    out = rows(tmp_path / "out.jsonl")
    assert len(out) == 40
    assert {(r["status"], r["backend"], r["cached"]) for r in out} == {("ok", "offline", False)}
    assert proc.stdout == ""
    assert "note: No LLM configured" in proc.stderr and "wrote 40 results to out.jsonl" in proc.stderr


def test_run_prints_the_offline_notice_once_on_one_line(first_run):
    notices = [line for line in first_run.stderr.splitlines() if "No LLM configured" in line]
    assert len(notices) == 1
    assert notices[0].startswith("note: No LLM configured") and "OPENAI_API_KEY" in notices[0]


def test_run_summary_has_per_label_counts_and_ok_count(first_run, tmp_path):
    labels = Counter(r["primary"] for r in rows(tmp_path / "out.jsonl"))
    assert len(labels) == 5
    for label, n in labels.items():
        assert summary_count(first_run.stderr, f"label {label}") == str(n)
    assert summary_count(first_run.stderr, "status ok") == "40"
    assert summary_count(first_run.stderr, "cached / new") == "0 / 40"
    assert "wrote 40 results to out.jsonl" in first_run.stderr


def test_second_run_is_served_from_the_cache(first_run, invoke, tmp_path):
    before = rows(tmp_path / "out.jsonl")
    proc = invoke("run", FIXTURES, "-o", "out.jsonl")
    assert proc.exit_code == 0, proc.stderr
    after = rows(tmp_path / "out.jsonl")
    assert {r["cached"] for r in after} == {True}
    assert [(r["id"], r["primary"], r["tldr"]) for r in after] == [(r["id"], r["primary"], r["tldr"]) for r in before]
    assert summary_count(proc.stderr, "cached / new") == "40 / 0"


def test_format_md_writes_a_reading_list(invoke, tmp_path):
    proc = invoke("run", FIXTURES, "--format", "md", "-o", "list.md")
    assert proc.exit_code == 0, proc.stderr
    md = (tmp_path / "list.md").read_text(encoding="utf-8")
    assert md.startswith("# paper-agent reading list\n\n40 papers, triaged ")
    assert md.count("\n### [") == 40
    assert "(https://arxiv.org/abs/2510.12815)" in md


def test_format_csv_writes_a_header_and_40_rows(invoke, tmp_path):
    proc = invoke("run", FIXTURES, "-f", "csv", "-o", "out.csv")
    assert proc.exit_code == 0, proc.stderr
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 40
    assert table[0]["id"] == "2510.12815" and table[0]["status"] == "ok"


def test_no_cache_leaves_the_cache_dir_empty(invoke, cache_dir):
    proc = invoke("run", FIXTURES, "--no-cache", "-o", "out.jsonl")
    assert proc.exit_code == 0, proc.stderr
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []
    assert summary_count(proc.stderr, "cached / new") == "0 / 40"


def test_help_exits_0_and_lists_the_commands(cli):
    proc = cli("--help")
    assert proc.returncode == 0
    assert "run" in proc.stdout and "cache" in proc.stdout


def test_cache_path_prints_the_configured_folder(invoke, cache_dir):
    proc = invoke("cache", "path")
    assert (proc.exit_code, proc.stdout.strip()) == (0, str(cache_dir))


def test_cache_stats_then_clear(first_run, invoke, cache_dir):
    stats = json.loads(invoke("cache", "stats").stdout)
    assert (stats["path"], stats["entries"]) == (str(cache_dir), 40)
    ((name, count),) = stats["by_backend_model"].items()
    assert re.fullmatch(r"offline/linear-v\d+", name) and count == 40
    proc = invoke("cache", "clear")
    assert (proc.exit_code, proc.stdout.strip()) == (0, "removed 40 entries")
    assert json.loads(invoke("cache", "stats").stdout)["entries"] == 0


def test_cache_explain_prints_the_key_and_its_components(first_run, invoke):
    proc = invoke("cache", "explain", FIXTURES, "--id", "2510.12815")
    assert proc.exit_code == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert re.fullmatch(r"[0-9a-f]{64}", info["key"])
    assert info["cached"] is True
    expected = {"backend", "model", "taxonomy", "paper.title", "paper.abstract", "paper.digest_summary"}
    assert expected <= set(info["components"])


def test_cache_explain_of_an_unknown_id_is_an_error(cli):
    proc = cli("cache", "explain", FIXTURES, "--id", "2501.99999")
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith("paper 2501.99999 not found in " + str(FIXTURES))
    assert "Traceback" not in proc.stderr
