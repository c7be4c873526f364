"""``paper-agent label``: the selection order, the state machine (label, undo, skip, resume) and
the real terminal UI driven through tmux."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import Paper, load_dataset, load_taxonomy
from agent.labeling import Candidate, LabelSession, label_keys, select

ROOT = Path(__file__).resolve().parents[1]
IR_TOPICS = ROOT / "evals" / "ir_topics" / "ir_topics.toml"


def _papers(n: int) -> list[Paper]:
    return [Paper(id=f"2501.{i:05d}", title=f"Paper number {i}", abstract=f"Abstract {i}.") for i in range(n)]


def _session(tmp_path: Path, n: int = 4) -> LabelSession:
    ordered = [Candidate(p, "other", 0.5, f"input:#{i + 1}") for i, p in enumerate(_papers(n))]
    return LabelSession.open(ordered, load_taxonomy(IR_TOPICS), tmp_path / "labels.jsonl")


def test_uncertain_order_puts_the_least_confident_first_and_records_the_rank() -> None:
    order = select(_papers(4), [0.9, 0.2, 0.5, 0.2], "uncertain")
    assert order == [(1, "uncertain:rank 1"), (3, "uncertain:rank 2"), (2, "uncertain:rank 3"), (0, "uncertain:rank 4")]


def test_random_order_depends_only_on_the_seed() -> None:
    a, b, c = (select(_papers(30), [0.5] * 30, "random", seed) for seed in (7, 7, 8))
    assert a == b and a != c
    assert sorted(i for i, _ in a) == list(range(30))
    assert a[0][1] == "random:seed 7 #1"


def test_label_keys_are_digits_in_taxonomy_order() -> None:
    assert label_keys(load_taxonomy(IR_TOPICS)) == {
        "1": "llm_as_judge",
        "2": "ctr_prediction",
        "3": "conversational_search",
        "4": "other",
    }


def test_keys_label_add_a_secondary_and_a_note_and_rows_are_the_dataset_format(tmp_path: Path) -> None:
    s = _session(tmp_path)
    assert [s.press(k) for k in ("s", "3")] == ["await-secondary", "secondary"]
    assert s.press("n") == "note"
    s.note = "judge on a CRS"
    assert s.press("1") == "label"
    assert s.press("x") == "skip"
    assert s.press("2") == "label"
    (first, second) = load_dataset(tmp_path / "labels.jsonl")
    assert (first.id, first.primary, first.secondary, first.notes) == (
        "2501.00000",
        "llm_as_judge",
        ["conversational_search"],
        "judge on a CRS",
    )
    assert first.selection == "input:#1"
    assert (second.id, second.primary, second.secondary) == ("2501.00002", "ctr_prediction", [])


def test_undo_removes_the_row_and_goes_back_and_skip_is_undone_without_writing(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.press("s")
    s.press("3")
    s.press("1")
    s.press("x")
    assert s.press("u") == "undo"  # the skip
    assert s.current is not None and s.current.paper.id == "2501.00001"
    assert s.press("u") == "undo"  # the label: row gone, its secondary pending again
    assert s.current is not None and s.current.paper.id == "2501.00000"
    assert s.secondary == ["conversational_search"]
    assert (tmp_path / "labels.jsonl").read_text(encoding="utf-8") == ""
    assert s.press("u") == "ignored"


def test_a_new_session_resumes_after_the_labelled_papers(tmp_path: Path) -> None:
    s = _session(tmp_path)
    s.press("4")
    s.press("x")
    s.press("2")
    again = _session(tmp_path)
    assert again.already == 2
    assert [c.paper.id for c in again.queue] == ["2501.00001", "2501.00003"]


def test_the_label_command_refuses_a_bad_order_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.cli",
            "label",
            str(ROOT / "examples"),
            "--order",
            "sideways",
            "-o",
            str(tmp_path / "l.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--order 'sideways': expected one of uncertain, random, input" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- the terminal UI

TMUX = shutil.which("tmux")


class Tmux:
    """One detached tmux session on a private server, with bounded waits on what it shows."""

    def __init__(self, tmp_path: Path, run: int) -> None:
        self.socket = f"pa-label-{os.getpid()}-{tmp_path.name}-{run}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=10)

    def start(self, command: str) -> None:
        # remain-on-exit keeps the pane after the command ends; the trailing sleep keeps the shell
        # (and what the command printed after leaving curses) on screen until kill() - without it
        # the last line was sometimes gone from capture-pane once the pane died.
        self._run("new-session", "-d", "-s", "t", "-x", "250", "-y", "50", f"{command}; sleep 30")
        self._run("set-option", "-t", "t", "remain-on-exit", "on")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self._run("send-keys", "-t", "t", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-J", "-t", "t").stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not shown within {timeout} s; screen:\n{self.screen()}")

    def kill(self) -> None:
        self._run("kill-server")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (the CI script installs it)")
def test_label_in_a_real_terminal_labels_undoes_quits_and_resumes(tmp_path: Path) -> None:
    papers = tmp_path / "papers.jsonl"
    rows = [
        {"id": f"2501.0000{i}", "title": f"Title{i} about {topic}", "abstract": f"We propose method {i} for {topic}."}
        for i, topic in enumerate(["CTR prediction", "conversational search", "LLM judges", "dense retrieval"])
    ]
    papers.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    env = f"XDG_CACHE_HOME={tmp_path / 'cache'} PYTHONPATH={ROOT}"
    command = f"env {env} {sys.executable} -m agent.cli label {papers} --taxonomy {IR_TOPICS} --order input -o {out}"
    tmux = Tmux(tmp_path, 1)
    try:
        tmux.start(command)
        shown = tmux.wait_for("Title0 about CTR prediction")
        assert "1 llm_as_judge" in shown and "2 ctr_prediction" in shown and "u undo" in shown
        tmux.keys("2")
        tmux.wait_for("Title1 about conversational search")
        tmux.keys("3")
        tmux.wait_for("Title2 about LLM judges")
        assert [r["primary"] for r in _rows(out)] == ["ctr_prediction", "conversational_search"]
        tmux.keys("u")
        tmux.wait_for("Title1 about conversational search")
        tmux.keys("q")
        tmux.wait_for("1 labelled this session")
        assert [(r["id"], r["primary"], r["selection"]) for r in _rows(out)] == [
            ("2501.00000", "ctr_prediction", "input:#1")
        ]
        tmux.kill()

        tmux = Tmux(tmp_path, 2)
        tmux.start(command)  # resume: the first paper is done, the undone one comes back
        shown = tmux.wait_for("Title1 about conversational search")
        assert "1 labelled, 3 to go" in shown
        tmux.keys("s", "1", "3")
        tmux.wait_for("Title2 about LLM judges")
        tmux.keys("q")
        tmux.wait_for("2 in")
        assert [(r["primary"], r.get("secondary", [])) for r in _rows(out)] == [
            ("ctr_prediction", []),
            ("conversational_search", ["llm_as_judge"]),
        ]
    finally:
        tmux.kill()
