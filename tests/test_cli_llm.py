"""The LLM path end to end: ``triage()`` and ``paper-agent run`` over a mocked (or dead) endpoint."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import respx
from llm_fakes import (
    BASE_URL,
    EchoModel,
    _isolate_llm,  # noqa: F401  (autouse)
    _shared_ssl_context,  # noqa: F401  (autouse)
    abstract_of,
    error_response,
    make_agent,
    make_paper,
    write_papers,
)
from typer.testing import CliRunner

from agent.cli import app
from agent.triage import triage

KEY = "sk-LEAKCHECK-1234567890abcdef"
PAPERS = [make_paper(i) for i in (1, 2, 3)]


@pytest.fixture
def inputs(tmp_path):
    return [write_papers(tmp_path / "papers.jsonl", PAPERS)]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- 10. key leak, real process


def test_run_against_a_dead_endpoint_never_writes_the_key(tmp_path, inputs):
    out, cache = tmp_path / "out.jsonl", tmp_path / "cache-dir"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPER_AGENT_"))}
    env.update(
        OPENAI_API_KEY=KEY,
        OPENAI_BASE_URL=f"http://127.0.0.1:{_closed_port()}/v1",
        PAPER_AGENT_RETRY_ATTEMPTS="1",
        PAPER_AGENT_CACHE_DIR=str(cache),
        PAPER_AGENT_MODE="tools",  # --mode auto would fail each paper at its probe (tested apart)
    )
    exe = Path(sys.executable).with_name("paper-agent")
    proc = subprocess.run(
        [str(exe), "run", *map(str, inputs), "-o", str(out), "-v"],
        capture_output=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["error"] * 3
    assert all("APIConnectionError" in r["error"] for r in rows)
    assert rows[0]["backend"] == "openai"
    needle = KEY.encode()
    assert needle not in proc.stdout and needle not in proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and needle in p.read_bytes()]
    assert written == []


# --------------------------------------------------------------------------- CLI in-process


def _cli(*args: object, **env: str):
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": BASE_URL, **env}
    return CliRunner().invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)


def test_cli_run_twice_makes_no_calls_the_second_time(api, tmp_path, inputs):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    first = _cli("run", *inputs, "-o", tmp_path / "a.jsonl")
    assert first.exit_code == 0 and route.call_count == 3
    second = _cli("run", *inputs, "-o", tmp_path / "b.jsonl")
    assert second.exit_code == 0 and route.call_count == 3
    assert [r["cached"] for r in _rows(tmp_path / "b.jsonl")] == [True] * 3
    assert "3 / 0" in second.stderr  # cached / new in the summary


def test_cli_no_cache_calls_every_time(api, tmp_path, inputs):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    for name in ("a", "b"):
        assert _cli("run", *inputs, "--no-cache", "-o", tmp_path / f"{name}.jsonl").exit_code == 0
    assert route.call_count == 6


def test_cli_options_reach_the_request(api, tmp_path, inputs):
    route = api.post("/chat/completions").mock(side_effect=EchoModel())
    result = _cli(
        "run",
        *inputs,
        "--no-cache",
        "--model",
        "gpt-4.1-mini",
        "--mode",
        "json",
        "--temperature",
        "0.2",
        "--max-tokens",
        "256",
        "-o",
        tmp_path / "a.jsonl",
    )
    assert result.exit_code == 0
    body = json.loads(route.calls.last.request.content)
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-4.1-mini", 0.2, 256)
    assert "response_format" in body and "tools" not in body
    assert {r["model"] for r in _rows(tmp_path / "a.jsonl")} == {"gpt-4.1-mini"}


def test_cli_cache_explain_reports_a_cached_paper(api, tmp_path, inputs):
    api.post("/chat/completions").mock(side_effect=EchoModel())
    assert _cli("run", *inputs, "-o", tmp_path / "a.jsonl").exit_code == 0
    shown = json.loads(_cli("cache", "explain", *inputs, "--id", PAPERS[0].id).stdout)
    assert shown["cached"] is True and {"model", "prompt", "taxonomy", "paper.abstract"} <= shown["components"].keys()
    other = json.loads(_cli("cache", "explain", *inputs, "--id", PAPERS[0].id, "--model", "gpt-4o").stdout)
    assert other["cached"] is False and other["key"] != shown["key"]


# --------------------------------------------------------------------------- 12. interrupted runs


def _slow_after_three(papers):
    slow = {p.abstract for p in papers[3:]}
    echo = EchoModel()
    cancelled: list[str] = []

    async def answer(request):
        if abstract_of(request) in slow:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.append(abstract_of(request))
                raise
        return echo(request)

    return answer, cancelled


class Stop(Exception):
    pass


def _stop_after(n: int):
    seen = []

    def on_result(result):
        seen.append(result)
        if len(seen) == n:
            raise Stop

    return on_result


def test_failing_run_keeps_finished_rows_in_the_output(api, tmp_path):
    papers = [make_paper(i) for i in range(1, 7)]
    answer, _ = _slow_after_three(papers)
    api.post("/chat/completions").mock(side_effect=answer)
    out = tmp_path / "out.jsonl"
    with pytest.raises(Stop):
        triage(
            [write_papers(tmp_path / "six.jsonl", papers)], make_agent(tmp_path), output=out, on_result=_stop_after(3)
        )
    assert [r["id"] for r in _rows(tmp_path / "out.jsonl.partial")] == [p.id for p in papers[:3]]
    assert not out.exists()  # never published under the final name
    fresh = make_agent(tmp_path)
    assert [fresh.explain(p)["cached"] for p in papers] == [True] * 3 + [False] * 3


def test_failing_run_cancels_calls_in_flight_before_returning(api, tmp_path):
    papers = [make_paper(i) for i in range(1, 7)]
    answer, cancelled = _slow_after_three(papers)
    api.post("/chat/completions").mock(side_effect=answer)
    with pytest.raises(Stop) as excinfo:  # holds the traceback, as a REPL's last error does
        triage(
            [write_papers(tmp_path / "six.jsonl", papers)],
            make_agent(tmp_path),
            output=tmp_path / "out.jsonl",
            on_result=_stop_after(3),
        )
    cancelled_on_return = len(cancelled)
    del excinfo
    gc.collect()  # only now does the abandoned stream close and cancel its calls
    assert len(cancelled) == 3
    assert cancelled_on_return == 3


# --------------------------------------------------------------------------- 14. --retry-errors


def _first_run_with_one_error(api, tmp_path, inputs, status=400):
    bad = PAPERS[1].abstract
    model = EchoModel(override=lambda req: error_response(status, "temporary") if abstract_of(req) == bad else None)
    route = api.post("/chat/completions").mock(side_effect=model)
    first = tmp_path / "first.jsonl"
    triage(inputs, make_agent(tmp_path), output=first)
    assert [r["status"] for r in _rows(first)] == ["ok", "error", "ok"]
    route.mock(side_effect=EchoModel(primary="rl_rec"))
    route.reset()
    return route, first


def test_retry_errors_sends_only_the_failed_paper(api, tmp_path, inputs):
    route, first = _first_run_with_one_error(api, tmp_path, inputs)
    out = tmp_path / "merged.jsonl"
    stats = triage(inputs, make_agent(tmp_path, cache=False), output=out, retry_errors=first)
    assert route.call_count == 1
    assert abstract_of(route.calls.last.request) == PAPERS[1].abstract
    rows = _rows(out)
    assert [r["id"] for r in rows] == [p.id for p in PAPERS]
    assert [(r["status"], r["primary"]) for r in rows] == [("ok", "rag"), ("ok", "rl_rec"), ("ok", "rag")]
    assert stats.total == 3 and stats.statuses["ok"] == 3


def test_retry_errors_in_the_cli_rewrites_the_file_in_place(api, tmp_path, inputs):
    route, first = _first_run_with_one_error(api, tmp_path, inputs)
    result = _cli("run", *inputs, "--retry-errors", first, "--no-cache")
    assert result.exit_code == 0 and route.call_count == 1
    assert [r["status"] for r in _rows(first)] == ["ok", "ok", "ok"]


def test_retry_errors_also_runs_papers_missing_from_the_old_output(api, tmp_path, inputs):
    route, first = _first_run_with_one_error(api, tmp_path, inputs)
    more = PAPERS + [make_paper(4)]
    out = tmp_path / "merged.jsonl"
    triage(
        [write_papers(tmp_path / "more.jsonl", more)], make_agent(tmp_path, cache=False), output=out, retry_errors=first
    )
    assert route.call_count == 2
    assert [r["id"] for r in _rows(out)] == [p.id for p in more]


@pytest.mark.parametrize("interrupted, concurrency", [(3, 1), (0, 8)])
def test_ctrl_c_landing_inside_a_call_is_a_keyboard_interrupt_and_keeps_finished_results(
    tmp_path, interrupted, concurrency
):
    papers = [make_paper(i) for i in range(1, 12)]
    echo = EchoModel()

    async def answer(request):
        await asyncio.sleep(0.01)
        if abstract_of(request) == papers[interrupted].abstract:
            raise KeyboardInterrupt  # what SIGINT does when it arrives during this call
        return echo(request)

    with respx.mock(base_url=BASE_URL, assert_all_called=False) as api:
        api.post("/chat/completions").mock(side_effect=answer)
        with pytest.raises(KeyboardInterrupt):  # not "RuntimeError: aclose(): ... already running"
            list(make_agent(tmp_path, concurrency=concurrency).analyze_many(papers))
    fresh = make_agent(tmp_path)
    assert [fresh.explain(p)["cached"] for p in papers[:interrupted]] == [True] * interrupted
