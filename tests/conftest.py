"""Shared fixtures: every test runs in its own folder with its own cache and no LLM settings."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SEED_DATASET = Path(__file__).resolve().parent.parent / "evals" / "seed_dataset.jsonl"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private cache, HOME and working directory; no API key, no PAPER_AGENT_* settings."""
    for name in list(os.environ):
        if name.startswith("PAPER_AGENT_") or name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("PAPER_AGENT_CACHE_DIR", str(cache_dir))
    # The fakes (respx replays, bench/fake_server.py) are written for tool calling: the suite
    # pins that mode. --mode auto, the default, and its probe have their own tests
    # (test_backends_dialects.py), and a test that wants it sets it.
    monkeypatch.setenv("PAPER_AGENT_MODE", "tools")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)  # so a developer's .env is never read
    # The CLI reconfigures the "agent" logger; put it back so caplog works in every test.
    logger = logging.getLogger("agent")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield cache_dir
    logger.handlers[:], logger.level, logger.propagate = saved


@pytest.fixture
def cache_dir(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture(scope="session")
def seed() -> dict[str, dict]:
    """Hand labels and expected fields of the 40 seed papers, by id, in file order."""
    rows = [json.loads(line) for line in SEED_DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {row["id"]: row for row in rows}


@pytest.fixture
def cli():
    """Run ``paper-agent`` as a real process (``main()`` maps errors to exit codes)."""

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agent.cli", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


@pytest.fixture
def invoke():
    """Run a command in-process on ``agent.cli.app`` (fast; errors propagate as exceptions)."""
    from typer.testing import CliRunner

    from agent.cli import app

    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture
def api():
    """respx routes for the fake OpenAI-compatible endpoint the LLM tests talk to."""
    import respx
    from llm_fakes import BASE_URL

    with respx.mock(base_url=BASE_URL) as router:
        yield router
