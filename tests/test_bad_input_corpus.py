"""Bad inputs through the CLI (offline backend, subprocess): either exit 2 with one line naming
the file, or a warning and the rest processed. Never a traceback.

Small cases live in ``tests/corpus/`` (see its README); big ones are generated in tmp_path.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fake_server_fixtures import CORPUS, error_lines, read_jsonl, run_cli, synth, write_papers


def offline(tmp_path: Path, *inputs: Path | str, verbose: bool = False) -> subprocess.CompletedProcess[str]:
    args = ["run", *inputs, "--backend", "offline", "--no-cache", "-o", tmp_path / "out.jsonl"]
    r = run_cli(args + (["-v"] if verbose else []), cwd=tmp_path, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def results(tmp_path: Path) -> list[dict]:
    return read_jsonl(tmp_path / "out.jsonl")


@pytest.mark.parametrize(
    "name, problem",
    [
        ("empty.md", "file is empty"),
        ("whitespace_only.md", "file is empty"),
        ("binary.pdf", "binary file"),
        ("latin1_digest.md", "not UTF-8 text (invalid byte 0xe9"),
    ],
)
def test_unreadable_file_exits_2_with_one_line_naming_it(tmp_path: Path, name: str, problem: str) -> None:
    r = offline(tmp_path, CORPUS / name)
    assert r.returncode == 2, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and f"{CORPUS / name}: " in lines[0] and problem in lines[0], r.stderr
    assert not (tmp_path / "out.jsonl").exists() or results(tmp_path) == []


def test_a_bad_file_among_good_ones_fails_before_any_work(tmp_path: Path) -> None:
    r = offline(tmp_path, CORPUS / "small_digest.md", CORPUS / "binary.pdf")
    assert r.returncode == 2 and "binary.pdf" in r.stderr
    assert not (tmp_path / "out.jsonl").exists() or results(tmp_path) == []


def test_an_input_error_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    # Regression: before ed8307b a typo in an input path replaced out.jsonl with an empty file.
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "yesterday"}\n')
    r = offline(tmp_path, tmp_path / "typo.md")
    assert r.returncode == 2 and "typo.md: no such file" in r.stderr
    assert out.read_text() == '{"id": "yesterday"}\n'


def test_truncated_digest_keeps_complete_entries_and_reads_the_cut_one(tmp_path: Path) -> None:
    r = offline(tmp_path, CORPUS / "truncated_digest.md")
    assert r.returncode == 0, r.stderr
    rows = results(tmp_path)
    assert [row["id"] for row in rows] == ["2501.00000", "2501.00001", "2501.00002"]
    assert {row["status"] for row in rows} == {"ok"}  # the cut entry is read with what it has


def test_digest_cut_right_after_a_heading_skips_that_entry_with_a_reason(tmp_path: Path) -> None:
    r = offline(tmp_path, CORPUS / "truncated_after_heading.md")
    assert r.returncode == 0, r.stderr
    rows = results(tmp_path)
    assert [row["status"] for row in rows] == ["ok", "ok", "skipped"]
    assert "no abstract" in rows[2]["error"] and "truncated_after_heading.md:" in rows[2]["error"]


def test_one_megabyte_abstract_is_processed_with_a_short_tldr(tmp_path: Path) -> None:
    big = next(synth.papers(1, seed=9, abstract_chars=1_000_000))
    rec = {k: big[k] for k in ("id", "title", "authors", "abstract")}
    (tmp_path / "big.jsonl").write_text(json.dumps(rec) + "\n")
    assert len(rec["abstract"]) >= 1_000_000
    r = offline(tmp_path, tmp_path / "big.jsonl")
    assert r.returncode == 0, r.stderr
    (row,) = results(tmp_path)
    assert row["status"] == "ok"
    assert 0 < len(row["tldr"].split()) <= 50


def test_duplicate_ids_first_wins_with_an_info_message(tmp_path: Path) -> None:
    r = offline(tmp_path, CORPUS / "duplicate_ids.jsonl", verbose=True)
    assert r.returncode == 0, r.stderr
    rows = results(tmp_path)
    assert [(row["id"], row["title"]) for row in rows] == [
        ("2501.00001", "Dense Retrieval with Hard Negatives"),
        ("2501.00002", "Query Expansion with Large Language Models"),  # 2501.00002v2 is the same paper
    ]
    assert "duplicate_ids.jsonl:2: duplicate 2501.00001 skipped" in r.stderr
    assert "duplicate_ids.jsonl:4: duplicate 2501.00002 skipped" in r.stderr


def test_crlf_digest_reads_exactly_like_lf(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.md"
    crlf.write_bytes((CORPUS / "small_digest.md").read_bytes().replace(b"\n", b"\r\n"))
    assert offline(tmp_path, CORPUS / "small_digest.md").returncode == 0
    lf_rows = results(tmp_path)
    assert offline(tmp_path, crlf).returncode == 0
    crlf_rows = results(tmp_path)
    keep = ("id", "title", "authors", "primary", "tldr", "evidence", "status")
    assert [{k: r[k] for k in keep} for r in crlf_rows] == [{k: r[k] for k in keep} for r in lf_rows]
    assert len(lf_rows) == 3 and "\r" not in json.dumps(crlf_rows)


def test_jsonl_with_one_broken_line_warns_with_file_and_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "papers.jsonl"
    records = write_papers(path, 5000, seed=61, abstract_chars=300)
    lines = path.read_text().splitlines()
    lines[2500] = lines[2500][:120]  # line 2501: cut mid-string
    path.write_text("\n".join(lines) + "\n")
    r = offline(tmp_path, path)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and f"{path}:2501: skipped line: invalid JSON" in warnings[0], r.stderr
    rows = results(tmp_path)
    assert len(rows) == 4999
    assert [row["id"] for row in rows] == [rec["id"] for i, rec in enumerate(records) if i != 2500]
