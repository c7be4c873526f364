"""Bulk triage end to end: the CLI as a process against the fake server's Files and Batches API.

``bench/fake_server.py`` serves the Batch API over sockets and answers batch lines with the
same logic as its chat endpoint, and ``--run-batch`` does the same to a file the way vLLM's
``run_batch`` does. Every check counts the chat-completion requests the server received.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_server_fixtures import ROOT, FakeServer, clean_env, error_lines, read_jsonl, run_cli

DIGEST = ROOT / "examples" / "cs_ir_digest_2025-10-15.md"
SECRET = "sk-E2ESECRET-abcdefghijklmnop"


def env_for(tmp: Path, server: Any) -> dict[str, str]:
    return clean_env(
        tmp, {"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": server.base_url, "PAPER_AGENT_MODEL": "gpt-4o-mini"}
    )


def results(path: Path) -> list[dict[str, Any]]:
    """The rows without what legitimately differs between a fresh and a cached answer."""
    return [{k: v for k, v in row.items() if k != "cached"} for row in read_jsonl(path)]


def cache_results(cache: Path) -> dict[str, Any]:
    from agent.cache import ResultCache

    rc = ResultCache(cache)
    try:
        return {key: entry["result"] for key, entry in rc.entries()}
    finally:
        rc.close()


def test_submit_collect_then_run_sends_zero_chat_requests(tmp_path: Path) -> None:
    with FakeServer(batch_polls=2) as server:
        env = env_for(tmp_path, server)
        submit = run_cli(["batch", "submit", DIGEST], tmp_path, env)
        assert submit.returncode == 0, submit.stderr
        ids = submit.stdout.split()
        assert ids == ["batch_000001"]
        status = run_cli(["batch", "status"], tmp_path, env)  # the fake runs it on the 2nd look
        assert status.returncode == 0 and "in_progress" in status.stderr and "5 / 11" in status.stderr
        collect = run_cli(["batch", "collect", *ids, "-o", "collected.jsonl"], tmp_path, env)
        assert collect.returncode == 0, collect.stderr
        assert "wrote 11 results" in collect.stderr
        run = run_cli(["run", DIGEST, "-o", "run.jsonl"], tmp_path, env)
        assert run.returncode == 0, run.stderr
        assert server.total_requests == 0 and server.stats()["batch_lines"] == 11
    rows = read_jsonl(tmp_path / "run.jsonl")
    assert len(rows) == 11 and all(r["status"] == "ok" and r["cached"] for r in rows)
    assert results(tmp_path / "run.jsonl") == results(tmp_path / "collected.jsonl")
    assert all(r["usage"]["cost_usd"] > 0 for r in read_jsonl(tmp_path / "collected.jsonl"))
    for f in tmp_path.rglob("*"):
        assert not f.is_file() or SECRET.encode() not in f.read_bytes(), f


def api_agent(server: Any, cache: Path) -> Any:
    from agent import Agent

    return Agent(backend="openai", base_url=server.base_url, api_key=SECRET, model="gpt-4o-mini", cache_dir=cache)


def api_settings(server: Any, cache: Path) -> Any:
    from agent import Settings

    return Settings(base_url=server.base_url, api_key=SECRET, cache_dir=cache)


def test_export_engine_run_and_import_fill_the_cache_like_the_batch_api(tmp_path: Path) -> None:
    from agent import batch_collect, batch_submit

    with FakeServer(batch_polls=1) as server:
        via_api = tmp_path / "api-cache"
        ids = batch_submit([DIGEST], api_agent(server, via_api)).batch_ids
        batch_collect(ids, settings=api_settings(server, via_api), output=tmp_path / "api.jsonl")

        env = env_for(tmp_path, server)
        export = run_cli(["batch", "export", DIGEST, "-o", "requests.jsonl"], tmp_path, env)
        assert export.returncode == 0, export.stderr
        assert (tmp_path / "requests.manifest.jsonl").exists()
        engine = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "fake_server.py"), "--run-batch", "requests.jsonl", "results.jsonl"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert engine.returncode == 0, engine.stderr
        imported = run_cli(
            ["batch", "import", "results.jsonl", "--requests", "requests.jsonl", "-o", "engine.jsonl"], tmp_path, env
        )
        assert imported.returncode == 0, imported.stderr
        run = run_cli(["run", DIGEST, "-o", "run.jsonl"], tmp_path, env)
        assert run.returncode == 0 and server.total_requests == 0
    assert cache_results(via_api) == cache_results(tmp_path / "xdg-cache" / "paper-agent")
    assert results(tmp_path / "api.jsonl") == results(tmp_path / "engine.jsonl") == results(tmp_path / "run.jsonl")


def test_run_batch_writes_a_complete_output_and_a_rerun_is_free(tmp_path: Path) -> None:
    from agent import triage_batch

    with FakeServer(batch_polls=3) as server:
        env = env_for(tmp_path, server)
        run = run_cli(["run", DIGEST, "--batch", "--poll", "0.05", "-o", "today.md", "--format", "md"], tmp_path, env)
        assert run.returncode == 0, run.stderr
        assert "submitted batch_000001" in run.stderr and "status ok" in run.stderr
        submitted: list[Any] = []
        agent = api_agent(server, tmp_path / "xdg-cache" / "paper-agent")
        report = triage_batch([DIGEST], agent, output=tmp_path / "again.jsonl", on_submit=submitted.append)
        assert submitted[0].records == [] and submitted[0].counts.cached == 11
        assert report.stats.cached == 11 and server.total_requests == 0 and len(server.batches) == 1
    assert (tmp_path / "today.md").read_text().count("](https://arxiv.org/abs/") >= 11


def test_expired_batch_reports_what_to_do_and_resubmits_only_the_rest(tmp_path: Path) -> None:
    from agent import batch_collect, batch_submit

    cache = tmp_path / "cache"
    with FakeServer(batch_fate="expired", batch_done_fraction=0.5) as server:
        ids = batch_submit([DIGEST], api_agent(server, cache)).batch_ids
        report = batch_collect(ids, settings=api_settings(server, cache), output=tmp_path / "out.jsonl")
        assert "batch_000001 expired" in report.notes[0] and "batch submit" in report.notes[0]
        rows = read_jsonl(tmp_path / "out.jsonl")
        assert [r["status"] for r in rows].count("ok") == 5
        assert all("batch_expired" in r["error"] for r in rows if r["status"] != "ok")
        server.batch_fate = "completed"
        again = batch_submit([DIGEST], api_agent(server, cache))
        assert (again.counts.requests, again.counts.cached) == (6, 5)


def test_cancel_then_collect(tmp_path: Path) -> None:
    from agent import batch_cancel, batch_collect, batch_submit

    cache = tmp_path / "cache"
    with FakeServer(batch_polls=5) as server:
        (batch_id,) = batch_submit([DIGEST], api_agent(server, cache)).batch_ids
        assert batch_cancel(batch_id, settings=api_settings(server, cache)).status == "cancelling"
        report = batch_collect([batch_id], settings=api_settings(server, cache), output=tmp_path / "out.jsonl")
        assert "cancelled" in report.notes[0]
        assert {r["status"] for r in read_jsonl(tmp_path / "out.jsonl")} == {"error"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["batch", "collect", "batch_nope"], "unknown batch 'batch_nope'"),
        (["batch", "import", "results.jsonl", "--requests", "requests.jsonl"], "cannot read the batch manifest"),
        (["run", DIGEST, "--batch", "-j", "4"], "--concurrency does not apply with --batch"),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path: Path, args: list[str], message: str) -> None:
    env = clean_env(tmp_path, {"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    result = run_cli(args, tmp_path, env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert message in line


def test_submit_without_an_endpoint_says_how_to_configure_one(tmp_path: Path) -> None:
    result = run_cli(["batch", "submit", DIGEST], tmp_path, clean_env(tmp_path))
    assert result.returncode == 2 and "set OPENAI_API_KEY" in error_lines(result.stderr)[0]
    assert not list((tmp_path / "xdg-cache").rglob("record.json"))
