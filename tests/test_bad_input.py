"""Bad input is a one-line error with an exit code, never a traceback; a bad entry costs only itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import Agent, InputError, Paper, TaxonomyError, load_papers, load_taxonomy, triage

GOOD_DIGEST = """\
### [Dense Retrieval for Statutes](https://arxiv.org/abs/2501.00001)
*Ada Lovelace*

Abstract: We propose a dense retrieval model for statutes.
"""

# name -> (bytes written, or None for nothing, or "dir" for an empty folder; problem in the message)
CASES = {
    "missing.md": (None, "no such file or directory"),
    "empty.md": (b"", "file is empty"),
    "blank.md": (b"  \n\t\n   \n", "file is empty"),
    "binary.md": (b"### [x](https://arxiv.org/abs/2501.00001)\n\x00\x01\x02\xff", "binary file"),
    "latin1.md": ("### [Café](https://arxiv.org/abs/2501.00001)\n".encode("latin-1"), "not UTF-8"),
    "prose.md": (b"Dear diary,\nToday I read three papers about retrieval.\n", "no known format"),
    "emptydir": ("dir", "directory contains no files"),
}


def make(tmp_path: Path, name: str) -> Path:
    content, _ = CASES[name]
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


def error_lines(stderr: str) -> list[str]:
    """stderr without the offline notice."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("note:")]


@pytest.mark.parametrize("name", CASES)
def test_bad_input_is_an_input_error_naming_file_and_problem(tmp_path, name):
    path = make(tmp_path, name)
    with pytest.raises(InputError) as info:
        load_papers(path)
    assert info.value.path == str(path)
    assert CASES[name][1] in info.value.problem
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", CASES)
def test_bad_input_through_the_cli_exits_2_with_one_line(cli, tmp_path, name):
    make(tmp_path, name)
    proc = cli("run", name, "-o", "out.jsonl")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith("error: ")
    assert name in line and CASES[name][1] in line


def test_a_bad_path_fails_before_any_paper_is_analysed(tmp_path):
    (tmp_path / "good.md").write_text(GOOD_DIGEST, encoding="utf-8")
    seen = []
    with Agent(backend="offline") as agent, pytest.raises(InputError, match="typo.md"):
        triage(["good.md", "typo.md"], agent, output="out.jsonl", on_result=seen.append)
    assert seen == []


def test_a_bad_input_leaves_an_existing_output_untouched(tmp_path):
    previous = tmp_path / "out.jsonl"
    previous.write_text('{"id": "2501.00001"}\n', encoding="utf-8")
    with Agent(backend="offline") as agent, pytest.raises(InputError):
        triage(["missing.md"], agent, output=previous)
    assert previous.read_text(encoding="utf-8") == '{"id": "2501.00001"}\n'


@pytest.mark.parametrize("name", ["[cs.IR]digest.md", "notes[/]x.md"])
def test_error_message_keeps_brackets_in_the_file_name(cli, name):
    proc = cli("run", name)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"error: {name}: no such file or directory" in proc.stderr


def test_a_heading_without_arxiv_id_is_skipped_and_the_rest_processed(invoke, tmp_path):
    blog = "\n### [Blog Post](https://example.org/post)\n*X*\n\nAbstract: Not a paper.\n\n"
    text = GOOD_DIGEST + blog + GOOD_DIGEST.replace("2501.00001", "2501.00003")
    (tmp_path / "digest.md").write_text(text, encoding="utf-8")
    proc = invoke("run", "digest.md", "-o", "out.jsonl")
    assert proc.exit_code == 0, proc.stderr
    assert "WARNING: digest.md:6: skipped entry: no arXiv id" in proc.stderr
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [("2501.00001", "ok"), ("2501.00003", "ok")]


def test_a_jsonl_line_that_is_not_json_is_skipped_and_the_rest_processed(invoke, tmp_path):
    good = {"id": "2501.00001", "title": "Dense Retrieval", "summary": "We propose a dense retriever."}
    lines = [json.dumps(good), '{"id": "2501.00002", "title": ', json.dumps({**good, "id": "2501.00003"})]
    (tmp_path / "papers.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = invoke("run", "papers.jsonl", "-o", "out.jsonl")
    assert proc.exit_code == 0, proc.stderr
    assert "WARNING: papers.jsonl:2: skipped line: invalid JSON" in proc.stderr
    ids = [json.loads(line)["id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert ids == ["2501.00001", "2501.00003"]


def test_a_file_where_every_entry_is_malformed_is_an_input_error(tmp_path):
    (tmp_path / "broken.jsonl").write_text("{oops\n{also broken\n", encoding="utf-8")
    with pytest.raises(InputError, match="no papers found"):
        load_papers(tmp_path / "broken.jsonl")


def test_a_paper_without_abstract_is_skipped_with_a_reason():
    with Agent(backend="offline") as agent:
        result = agent.analyze(Paper(id="2501.00001", title="Only a Title", source_file="d.md", source_line=7))
    assert (result.status, result.primary, result.tldr) == ("skipped", None, "")
    assert result.error == "no abstract (d.md:7)"


BAD_TAXONOMIES = {
    "broken.toml": ('name = "x"\nlabels = [\n', "not valid TOML"),
    "nofallback.toml": (
        'name = "t"\nfallback = "zzz"\n[[labels]]\nname = "alpha"\ndescription = "a"\n'
        '[[labels]]\nname = "beta"\ndescription = "b"\n',
        "fallback 'zzz' is not one of the labels",
    ),
}


@pytest.mark.parametrize("name", BAD_TAXONOMIES)
def test_a_malformed_taxonomy_is_a_taxonomy_error(tmp_path, name):
    text, problem = BAD_TAXONOMIES[name]
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError, match=problem):
        load_taxonomy(tmp_path / name)


@pytest.mark.parametrize("name", BAD_TAXONOMIES)
def test_a_malformed_taxonomy_through_the_cli_exits_2_with_one_line(cli, tmp_path, name):
    text, problem = BAD_TAXONOMIES[name]
    (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "digest.md").write_text(GOOD_DIGEST, encoding="utf-8")
    proc = cli("run", "digest.md", "--taxonomy", name)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith(f"error: {name}: ") and problem in line


def test_an_output_path_that_is_a_directory_is_a_clean_cli_error(cli, tmp_path):
    (tmp_path / "digest.md").write_text(GOOD_DIGEST, encoding="utf-8")
    (tmp_path / "results").mkdir()
    proc = cli("run", "digest.md", "-o", "results")
    assert proc.returncode == 3  # OutputError.exit_code
    assert "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line == "error: results: is a directory, expected an output file name"
