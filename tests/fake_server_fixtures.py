"""Shared helpers for the fault and bad-input tests: the fake server, synthetic papers, the CLI.

``bench/fake_server.py`` and ``bench/synth.py`` are loaded by path (``bench/`` is not a
package). Every CLI run gets a clean environment (no OPENAI_*/PAPER_AGENT_* from the caller),
a private ``XDG_CACHE_HOME`` and a temporary working directory, so no ``.env`` or user cache
leaks in.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


def _load(name: str) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fake_server = _load("fake_server")
synth = _load("synth")
FakeServer = fake_server.FakeServer

# Fast, bounded retry settings for tests against the fake server.
FAST_RETRY_ENV = {
    "PAPER_AGENT_TIMEOUT": "0.5",
    "PAPER_AGENT_RETRY_MAX_WAIT": "0.05",
    "PAPER_AGENT_RETRY_ATTEMPTS": "6",
    "PAPER_AGENT_RETRY_TOTAL": "30",
}


def paper_agent_cmd() -> list[str]:
    script = Path(sys.executable).with_name("paper-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def clean_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus OPENAI_*/PAPER_AGENT_*, plus a private cache and fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPER_AGENT_"))}
    env["XDG_CACHE_HOME"] = str(home / "xdg-cache")
    env["COLUMNS"] = "200"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(FAST_RETRY_ENV)
    env["PAPER_AGENT_MODE"] = "tools"  # the fakes' dialect, as in conftest.isolated_env
    env.update(extra or {})
    return env


def run_cli(
    args: Iterable[str | Path],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        paper_agent_cmd() + [str(a) for a in args],
        cwd=cwd,
        env=env or clean_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec_fn,
    )


def openai_args(server: Any, *, jobs: int = 4, cache_dir: Path | None = None) -> list[str]:
    args = ["--backend", "openai", "--base-url", server.base_url, "--model", "fake", "-j", str(jobs)]
    if cache_dir is not None:
        args += ["--cache-dir", str(cache_dir)]
    return args


def write_papers(path: Path, n: int, seed: int = 0, abstract_chars: int = 400, **extra: Any) -> list[dict]:
    """``n`` synthetic papers as our own JSONL records; returns the records written."""
    records = []
    for p in synth.papers(n, seed=seed, abstract_chars=abstract_chars):
        rec = {k: p[k] for k in ("id", "title", "authors", "abstract")}
        rec.update(extra)
        records.append(rec)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return records


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]
