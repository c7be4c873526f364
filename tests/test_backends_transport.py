"""The HTTP transports over real sockets against bench/fake_server.py on 127.0.0.1.

respx cannot intercept the default aiohttp transport, so it is tested here end to end: the
same papers give the same rows on both transports, 429s and timeouts are retried, and a
refused connection is reported as a connection error, not as a timeout.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fake_server_fixtures import FakeServer, synth

from agent import Agent, Paper, Settings

PAPERS = [
    Paper(id=p["id"], title=p["title"], abstract=p["abstract"], authors=p["authors"])
    for p in synth.papers(12, seed=5, abstract_chars=400)
]


def _settings(tmp_path: Path, http: str, **kw: object) -> Settings:
    values: dict[str, object] = dict(
        http_client=http,
        timeout=0.5,
        retry_max_wait=0.05,
        retry_attempts=6,
        retry_total=30,
        cache_dir=tmp_path / "cache",
    )
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def _run(tmp_path: Path, base_url: str, http: str, **kw: object) -> list:
    agent = Agent(
        backend="openai",
        base_url=base_url,
        api_key="sk-test-key-123456",
        model="fake",
        settings=_settings(tmp_path, http, **kw),
        cache=False,
        concurrency=4,
    )
    try:
        return list(agent.analyze_many(PAPERS))
    finally:
        agent.close()


def _fields(rows: list) -> list[tuple]:
    return [(r.id, r.status, r.primary, r.evidence, r.tldr, r.usage.prompt_tokens) for r in rows]


def test_aiohttp_and_httpx_give_the_same_rows_in_input_order(tmp_path: Path) -> None:
    with FakeServer(latency=0.01, spread=0.01, seed=2) as server:
        aio = _run(tmp_path / "a", server.base_url, "aiohttp")
        plain = _run(tmp_path / "h", server.base_url, "httpx")
    assert [r.id for r in aio] == [p.id for p in PAPERS]
    assert all(r.status == "ok" for r in aio), [r.error for r in aio]
    assert _fields(aio) == _fields(plain)


@pytest.mark.parametrize("http", ["aiohttp", "httpx"])
def test_429s_and_hangs_are_retried_on_both_transports(tmp_path: Path, http: str) -> None:
    with FakeServer(latency=0.005, seed=4, rate_429=0.3, rate_hang=0.1, hang_seconds=1.0, retry_after=0.01) as server:
        rows = _run(tmp_path, server.base_url, http)
        faults = server.faults
    assert faults.get("rate_limit") and faults.get("hang")
    assert [r.status for r in rows] == ["ok"] * len(PAPERS), [r.error for r in rows]


@pytest.mark.parametrize("http", ["aiohttp", "httpx"])
def test_a_refused_connection_is_a_connection_error_not_a_timeout(tmp_path: Path, http: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the run: nothing listens there
    # a refusal is answered at once; 5 s keeps a loaded machine from turning it into a timeout
    rows = _run(tmp_path, f"http://127.0.0.1:{port}/v1", http, retry_attempts=1, timeout=5.0)
    assert {r.status for r in rows} == {"error"}
    assert "APIConnectionError" in rows[0].error and "Timeout" not in rows[0].error, rows[0].error
