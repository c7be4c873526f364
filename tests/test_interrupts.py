"""Ctrl-C and SIGTERM during ``Agent.analyze_many`` stop the run wherever the signal lands.

The signal is sent by this process to itself from inside the run (a result callback, a
finaliser), so where it lands is fixed rather than left to timing as in the subprocess tests.
"""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_server_fixtures import FakeServer, write_papers

from agent import Agent, Paper, PaperResult, Settings


class Stop(Exception):
    """What the SIGTERM handler below raises."""


@pytest.fixture
def default_handlers() -> Iterator[None]:
    """Python's own SIGINT handler (a background test run starts with SIGINT ignored)."""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def papers_at(tmp_path: Path, n: int, seed: int) -> list[Paper]:
    return [Paper(**record) for record in write_papers(tmp_path / "papers.jsonl", n, seed=seed)]


def agent_for(server: FakeServer, tmp_path: Path) -> Agent:
    settings = Settings(timeout=5, retry_max_wait=0.05, cache_dir=tmp_path / "cache")
    return Agent(
        backend="openai", base_url=server.base_url, api_key="x", model="fake", concurrency=2, settings=settings
    )


class SignalsWhenCollected:
    """Sends ``sig`` to this process from ``__del__``: a handler that raises there is swallowed
    ("Exception ignored in ...") as one inside aiohttp's ``ClientResponse.__del__`` was in CI."""

    def __init__(self, sig: int) -> None:
        self.sig = sig

    def __del__(self) -> None:
        os.kill(os.getpid(), self.sig)


@pytest.mark.usefixtures("default_handlers")
def test_sigint_inside_a_finaliser_still_stops_the_run(tmp_path: Path) -> None:
    papers = papers_at(tmp_path, 40, seed=3)
    seen: list[PaperResult] = []

    def on_result(result: PaperResult) -> None:
        seen.append(result)
        if len(seen) == 3:
            SignalsWhenCollected(signal.SIGINT)  # collected at once: the signal arrives inside __del__
            gc.collect()

    with FakeServer(latency=0.02, seed=1) as server, agent_for(server, tmp_path) as agent:
        with pytest.raises(KeyboardInterrupt):
            for _ in agent.analyze_many(papers, on_result=on_result):
                pass
    assert 3 <= len(seen) < 40
    assert all(r.status == "ok" for r in seen)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.usefixtures("default_handlers")
def test_sigterm_runs_the_installed_handler_and_gets_it_back_afterwards(tmp_path: Path) -> None:
    def on_sigterm(signum: int, frame: object) -> None:
        raise Stop(signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    papers = papers_at(tmp_path, 40, seed=4)
    seen: list[PaperResult] = []

    def on_result(result: PaperResult) -> None:
        seen.append(result)
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    with FakeServer(latency=0.02, seed=1) as server, agent_for(server, tmp_path) as agent:
        with pytest.raises(Stop) as stopped:
            for _ in agent.analyze_many(papers, on_result=on_result):
                pass
        assert stopped.value.args == (signal.SIGTERM,)
        assert 2 <= len(seen) < 40
        # The handlers are back, and a second run in the same process is not stopped by the first signal.
        assert signal.getsignal(signal.SIGTERM) is on_sigterm
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        again = list(agent.analyze_many(papers[:5]))
    assert [r.status for r in again] == ["ok"] * 5
