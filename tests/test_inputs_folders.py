"""Folders as inputs: read recursively, a bad file in a folder costs only itself, and the
output can never overwrite an input. Also the ingest warnings a user must see without -v."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from agent import Agent, InputError, load_papers, triage

DIGEST = """\
### [{title}](https://arxiv.org/abs/{pid})
*Ada Lovelace*

Abstract: We propose a dense retrieval model for {title}.
"""


def digest(path: Path, *pids: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(DIGEST.format(title=f"Paper {p}", pid=p) for p in pids), encoding="utf-8")
    return path


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


# --------------------------------------------------------------------------- 1. bad file in a folder


@pytest.mark.parametrize("bad_name", ["0_notes.txt", "b_notes.txt", "z_notes.txt"])
def test_a_bad_file_in_a_folder_is_a_warning_and_the_good_files_are_processed(cli, tmp_path, bad_name):
    digest(tmp_path / "d" / "a.md", "2501.00001")
    (tmp_path / "d" / bad_name).write_text("notes\n", encoding="utf-8")
    digest(tmp_path / "d" / "c.md", "2501.00003")
    proc = cli("run", "d", "-o", "out.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert ids(tmp_path / "out.jsonl") == ["2501.00001", "2501.00003"]
    warnings = [line for line in proc.stderr.splitlines() if bad_name in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: ") and "no known format" in warnings[0]
    assert "skipped files" in proc.stderr and "Traceback" not in proc.stderr


def test_folder_files_that_are_binary_or_empty_or_without_papers_are_skipped_and_counted(tmp_path):
    digest(tmp_path / "d" / "a.md", "2501.00001")
    (tmp_path / "d" / "b.pdf").write_bytes(b"%PDF-1.4\x00\x01")
    (tmp_path / "d" / "c.md").write_text("", encoding="utf-8")
    (tmp_path / "d" / "e.jsonl").write_text("{oops\n", encoding="utf-8")
    with Agent(backend="offline") as agent:
        stats = triage(["d"], agent, output="out.jsonl")
    assert ids(tmp_path / "out.jsonl") == ["2501.00001"]
    assert stats.skipped_files == 3


def test_the_tool_s_own_outputs_in_a_folder_are_left_out_with_a_warning(tmp_path, caplog):
    """An output next to its digests names the same papers without abstracts: read first, it
    would win the de-duplication and every paper would end "skipped: no abstract"."""
    digest(tmp_path / "d" / "z_digest.md", "2501.00001", "2501.00002")
    with Agent(backend="offline") as agent:
        triage(["d/z_digest.md"], agent, output="d/a_list.md", fmt="md")
        triage(["d/z_digest.md"], agent, output="d/a_results.jsonl")
    with caplog.at_level(logging.WARNING, logger="agent.inputs"), Agent(backend="offline") as agent:
        stats = triage(["d"], agent, output="out.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("2501.00001", "ok"), ("2501.00002", "ok")]
    assert stats.skipped_files == 2
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "a_list.md: a paper-agent reading list (this tool's output, no abstracts)" in warned
    assert "a_results.jsonl: a paper-agent results file" in warned


def test_a_bad_file_named_on_the_command_line_fails_before_any_paper(tmp_path):
    digest(tmp_path / "a.md", "2501.00001")
    (tmp_path / "notes.txt").write_text("notes\n", encoding="utf-8")
    seen: list = []
    with Agent(backend="offline") as agent, pytest.raises(InputError, match="notes.txt: no known format"):
        triage(["a.md", "notes.txt"], agent, output="out.jsonl", on_result=seen.append)
    assert seen == [] and not (tmp_path / "out.jsonl").exists()


def test_a_folder_where_every_file_is_bad_is_an_input_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("notes\n", encoding="utf-8")
    with pytest.raises(InputError, match="no readable paper files"):
        load_papers(tmp_path / "d")


def test_a_run_that_fails_midway_never_publishes_its_output_under_the_final_name(cli, tmp_path):
    digest(tmp_path / "a.md", "2501.00001")
    (tmp_path / "b.jsonl").write_text("{oops\n", encoding="utf-8")  # named: no papers is an error
    proc = cli("run", "a.md", "b.jsonl", "-o", "out.jsonl")
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert "b.jsonl" in line and "no papers found" in line
    assert not (tmp_path / "out.jsonl").exists()
    assert ids(tmp_path / "out.jsonl.partial") == ["2501.00001"]  # nothing lost


# --------------------------------------------------------------------------- 2. -o equal to an input


def test_output_equal_to_an_input_file_is_refused_before_reading(cli, tmp_path):
    original = digest(tmp_path / "today.md", "2501.00001").read_bytes()
    proc = cli("run", "today.md", "-o", "today.md", "--format", "md")
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert "today.md" in line and "is also an input" in line
    assert (tmp_path / "today.md").read_bytes() == original


def test_output_equal_to_a_file_inside_an_input_folder_is_refused(tmp_path):
    digest(tmp_path / "d" / "a.md", "2501.00001")
    (tmp_path / "d" / "out.jsonl").write_text('{"id": "2501.00009", "title": "x", "abstract": "y"}\n')
    with Agent(backend="offline") as agent, pytest.raises(InputError, match="is also an input"):
        triage(["d"], agent, output=tmp_path / "d" / ".." / "d" / "out.jsonl")


# --------------------------------------------------------------------------- 3. recursive folders


def test_folders_are_read_recursively_in_path_order_skipping_hidden_ones(tmp_path):
    digest(tmp_path / "d" / "a.md", "2501.00001")
    digest(tmp_path / "d" / "2025" / "10" / "b.md", "2501.00002")
    digest(tmp_path / "d" / "2025" / "c.md", "2501.00003")
    digest(tmp_path / "d" / ".git" / "x.md", "2501.00004")
    digest(tmp_path / "d" / "2025" / ".hidden.md", "2501.00005")
    assert [p.id for p in load_papers(tmp_path / "d")] == ["2501.00002", "2501.00003", "2501.00001"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_symlink_loop_in_a_folder_is_read_once(tmp_path):
    digest(tmp_path / "d" / "sub" / "a.md", "2501.00001")
    (tmp_path / "d" / "sub" / "loop").symlink_to(tmp_path / "d", target_is_directory=True)
    assert [p.id for p in load_papers(tmp_path / "d")] == ["2501.00001"]


# --------------------------------------------------------------------------- 4. unusable headings


def test_a_heading_with_text_after_the_link_is_a_paper(tmp_path):
    text = (
        "### [1] [Tiger Retrieval](https://arxiv.org/abs/2501.00064) (NeurIPS 2025)\n*A*\n\nAbstract: We propose x.\n"
    )
    (tmp_path / "d.md").write_text(text, encoding="utf-8")
    (paper,) = load_papers(tmp_path / "d.md")
    assert (paper.id, paper.title, paper.abstract) == ("2501.00064", "Tiger Retrieval", "We propose x.")


def test_a_numbered_heading_without_a_link_is_a_warning_with_file_and_line(tmp_path, caplog):
    text = (
        DIGEST.format(title="First", pid="2501.00001")
        + "\n### [2] A Title With No Link\n*B*\n\nAbstract: Orphan abstract.\n\n"
        + DIGEST.format(title="Third", pid="2501.00003")
    )
    (tmp_path / "d.md").write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        papers = load_papers(tmp_path / "d.md")
    assert [p.id for p in papers] == ["2501.00001", "2501.00003"]
    assert "Orphan" not in papers[0].abstract  # the orphan's fields do not leak into the paper above
    assert any(f"{tmp_path / 'd.md'}:6: skipped heading" in r.getMessage() for r in caplog.records)


def test_a_plain_section_heading_is_not_a_warning(tmp_path, caplog):
    text = "## Information Retrieval\n\n" + DIGEST.format(title="First", pid="2501.00001")
    (tmp_path / "d.md").write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        assert len(load_papers(tmp_path / "d.md")) == 1
    assert caplog.records == []


# --------------------------------------------------------------------------- 12. smaller ingest items


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_input_is_named_as_utf16_with_how_to_convert(tmp_path, encoding):
    path = tmp_path / "d.md"
    path.write_bytes(DIGEST.format(title="First", pid="2501.00001").encode(encoding))
    with pytest.raises(InputError) as info:
        load_papers(path)
    assert "UTF-16" in info.value.problem and "iconv" in info.value.problem
    assert "binary" not in info.value.problem


def test_the_invalid_json_warning_is_a_complete_sentence(tmp_path, caplog):
    good = json.dumps({"id": "2501.00001", "title": "A", "summary": "We propose x."})
    (tmp_path / "p.jsonl").write_text(good + '\n{"id": "2501.00002", "title": "B\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        load_papers(tmp_path / "p.jsonl")
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.endswith("skipped line: invalid JSON (Unterminated string starting at column 31)")


def test_duplicate_ids_with_different_titles_are_one_warning_with_the_count(tmp_path, caplog):
    digest(tmp_path / "a.md", "2501.00001", "2501.00002", "2501.00003")
    (tmp_path / "b.md").write_text(
        DIGEST.format(title="Another", pid="2501.00001")
        + DIGEST.format(title="Other", pid="2501.00002")
        + DIGEST.format(title="Paper 2501.00003", pid="2501.00003"),  # same paper twice: no warning
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="agent.inputs"):
        assert len(load_papers([tmp_path / "a.md", tmp_path / "b.md"])) == 3
    (message,) = [r.getMessage() for r in caplog.records]
    assert message.startswith("2 duplicate arXiv ids with a different title")


def test_a_binary_file_full_of_nul_bytes_is_still_called_binary(tmp_path):
    (tmp_path / "zeros.md").write_bytes(b"\x00" * 4096)
    with pytest.raises(InputError, match="binary file"):
        load_papers(tmp_path / "zeros.md")
