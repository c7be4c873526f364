"""The README is run, so it cannot drift from the code.

- Every ```python block is executed (one namespace, in a folder holding the repo's
  ``examples/``), and every ``paper-agent`` command in a ```bash block is run on the offline
  backend; setup commands in those blocks (venv, pip, pytest) are not. A block that needs a real
  endpoint or key is marked ``<!-- no-test -->`` on the line before its fence. Synopses that are
  not meant to run are fenced as ```text.
- A paragraph right after ``<!-- checked-by: COMMAND -->`` quotes numbers that COMMAND
  produces: the command is run and each figure found in the paragraph (accuracy and macro-F1
  with their CIs, label-set F1, ECE, ROUGE-L, the number of papers) must equal its
  ``metrics.json`` value at the README's precision. The figures are parsed from the text, so
  the paragraph can be rewritten (another dataset, other numbers) as long as it stays true.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
NO_TEST = "<!-- no-test"
CHECKED_BY_RE = re.compile(r"^<!-- checked-by: (?P<command>.+?) -->$")
FENCE_RE = re.compile(r"^```(?P<lang>\w*)\s*$")


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the first code line
    skip: bool  # marked <!-- no-test --> on the line before the fence


def code_blocks(text: str) -> list[Block]:
    """Fenced code blocks of a Markdown text, with whether a no-test marker precedes each."""
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE_RE.match(lines[i])
        if m is None:
            i += 1
            continue
        start = i + 1
        end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        blocks.append(Block(m.group("lang"), "\n".join(lines[start:end]), start + 1, before.startswith(NO_TEST)))
        i = end + 1
    return blocks


def paper_agent_commands(code: str) -> list[list[str]]:
    """The ``paper-agent`` commands of a shell block as argv lists; setup commands are left out."""
    commands = []
    for line in code.replace("\\\n", " ").split("\n"):
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv and argv[0] == "paper-agent":
                commands.append(argv)
    return commands


def run_paper_agent(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [str(Path(a).expanduser()) if a.startswith("~") else a for a in argv[1:]]
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """The working directory a new user has after cloning: the repo's examples (and the worked
    example of a custom taxonomy, evals/ir_topics)."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copytree(REPO / "evals" / "ir_topics", tmp_path / "evals" / "ir_topics")
    return tmp_path


BLOCKS = [b for b in code_blocks(README.read_text(encoding="utf-8")) if b.lang in ("python", "bash")]


def _id(block: Block) -> str:
    return f"README.md:{block.line}:{block.lang}"


# --------------------------------------------------------------------------- the extractor itself


SAMPLE = """\
Intro.

```python
x = 1
```

<!-- no-test: needs a key -->
```python
raise SystemExit("never run")
```

```bash
python3 -m venv .venv && pip install . && paper-agent run examples/ --format md  # first run
paper-agent eval \\
  -o out
```
"""


def test_code_blocks_honour_the_no_test_marker():
    blocks = code_blocks(SAMPLE)
    assert [(b.lang, b.line, b.skip) for b in blocks] == [
        ("python", 4, False),
        ("python", 9, True),
        ("bash", 13, False),
    ]
    assert blocks[1].code == 'raise SystemExit("never run")'


def test_only_the_paper_agent_commands_of_a_shell_block_are_run():
    (bash,) = [b for b in code_blocks(SAMPLE) if b.lang == "bash"]
    assert paper_agent_commands(bash.code) == [
        ["paper-agent", "run", "examples/", "--format", "md"],
        ["paper-agent", "eval", "-o", "out"],
    ]


def test_the_readme_has_runnable_blocks_and_few_skipped_ones():
    assert {b.lang for b in BLOCKS if not b.skip} == {"python", "bash"}
    # Only a block that needs an LLM endpoint or arXiv may be skipped, and it says which.
    markers = re.findall(r"<!-- no-test(.*?)-->", README.read_text(encoding="utf-8").split("## Development")[0])
    assert len(markers) == sum(b.skip for b in BLOCKS)
    assert all(m.strip() in (": needs an endpoint", ": needs arXiv") for m in markers), markers


# --------------------------------------------------------------------------- the README itself


def test_the_readme_python_blocks_run_as_written(sandbox, capsys):
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    blocks = [b for b in BLOCKS if b.lang == "python" and not b.skip]
    assert blocks
    for block in blocks:
        # Padded so a traceback points at the README's own line numbers.
        exec(compile("\n" * (block.line - 1) + block.code, str(README), "exec"), namespace)  # noqa: S102
    agent = namespace.get("agent")
    assert agent is not None and agent.backend.name == "offline"
    if hasattr(agent, "close"):
        agent.close()


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "bash" and not b.skip], ids=_id)
def test_the_readme_paper_agent_commands_run_offline(sandbox, block):
    commands = paper_agent_commands(block.code)
    assert commands, f"{_id(block)}: a bash block with no paper-agent command (fence a synopsis as ```text)"
    for argv in commands:
        proc = run_paper_agent(argv, sandbox)
        assert proc.returncode == 0, f"{_id(block)}: {shlex.join(argv)} exited {proc.returncode}:\n{proc.stderr}"
        assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- README numbers


def _checked_paragraphs(text: str) -> list[tuple[str, str]]:
    """``(command, paragraph)`` for every ``<!-- checked-by: COMMAND -->`` marker."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines):
        m = CHECKED_BY_RE.match(line.strip())
        if m:
            body = []
            for following in lines[i + 1 :]:
                if not following.strip():
                    break
                body.append(following)
            out.append((m.group("command"), " ".join(body)))
    return out


def _num(pattern: str) -> str:
    return pattern.replace("NUM", r"(\d+(?:\.\d+)?)(?![\d.])")


# README phrase -> the metrics.json values its numbers must equal (in order).
FIGURES: dict[str, Callable[[dict[str, Any]], list[float]]] = {
    _num(r"\baccuracy NUM \(95% CI NUM-NUM\)"): lambda m: [m["accuracy"][k] for k in ("value", "ci_low", "ci_high")],
    _num(r"\baccuracy NUM(?! \()"): lambda m: [m["accuracy"]["value"]],
    _num(r"\bmacro-F1 NUM \(NUM-NUM\)"): lambda m: [m["macro_f1"][k] for k in ("value", "ci_low", "ci_high")],
    _num(r"\bmacro-F1 NUM(?! \()"): lambda m: [m["macro_f1"]["value"]],
    _num(r"\blabel-set F1 NUM"): lambda m: [m["label_set_f1"]],
    _num(r"\bECE NUM"): lambda m: [m["ece"]],
    _num(r"\bROUGE-L\D{0,60}?NUM"): lambda m: [m["tldr"]["mean_rouge_l"]],
    _num(r"\bon the NUM hand-labelled"): lambda m: [m["n"]],
}


def _same(quoted: str, actual: float) -> bool:
    decimals = len(quoted.partition(".")[2])
    return f"{actual:.{decimals}f}" == quoted


PARAGRAPHS = _checked_paragraphs(README.read_text(encoding="utf-8"))


def test_the_readme_marks_its_measured_numbers():
    assert PARAGRAPHS, "README: no <!-- checked-by: COMMAND --> paragraph"


@pytest.mark.parametrize("command, paragraph", PARAGRAPHS, ids=[c for c, _ in PARAGRAPHS])
def test_the_readme_numbers_are_what_the_command_produces(sandbox, command, paragraph):
    import json

    argv = shlex.split(command)
    assert argv[:2] == ["paper-agent", "eval"], "only eval numbers can be checked"
    out = argv[argv.index("-o") + 1] if "-o" in argv else "eval-out"
    proc = run_paper_agent(argv, sandbox)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((sandbox / out / "metrics.json").read_text(encoding="utf-8"))
    checked = 0
    for pattern, actual in FIGURES.items():
        for m in re.finditer(pattern, paragraph):
            quoted, values = m.groups(), actual(metrics)
            assert all(map(_same, quoted, values)), f"README says {m.group(0)!r}; {command} gives {values}"
            checked += 1
    assert checked >= 2, f"no accuracy / macro-F1 figures found after the marker: {paragraph[:200]!r}"


def test_the_readme_taxonomy_tag_example_is_the_current_one():
    from agent.taxonomy import load_taxonomy

    tags = re.findall(r"`(ir-method-types@[0-9a-f]+)`", README.read_text(encoding="utf-8"))
    assert tags and set(tags) == {load_taxonomy().tag}


# --------------------------------------------------------------------------- the test command


def test_the_readme_test_command_prints_the_passed_line(tmp_path):
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n", encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-c",
            str(REPO / "pyproject.toml"),
            "--rootdir",
            str(tmp_path),
            "-p",
            "no:cacheprovider",
            "test_one.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^1 passed\b", proc.stdout, re.M), proc.stdout
