"""The CLI as real processes: racing each other, receiving signals, refusing options it cannot honour.

Each test is bounded to a few seconds: short fake latency, few papers, and every child killed
in a ``finally`` if it outlives the test.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest
from fake_server_fixtures import (
    ROOT,
    FakeServer,
    clean_env,
    error_lines,
    openai_args,
    paper_agent_cmd,
    read_jsonl,
    run_cli,
    write_papers,
)

DIGEST = ROOT / "examples" / "cs_ir_digest_2025-10-15.md"


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        paper_agent_cmd() + args,
        cwd=cwd,
        env=clean_env(cwd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # A test run in the background inherits SIGINT ignored; give the child the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_a_second_run_on_the_same_output_is_refused_and_rows_never_interleave(tmp_path: Path) -> None:
    papers = write_papers(tmp_path / "papers.jsonl", 40, seed=41)
    with FakeServer(latency=0.2, seed=4) as server:  # ~4 s of work at -j 2: the second run lands mid-run
        args = ["run", "papers.jsonl", *openai_args(server, jobs=2, cache_dir=tmp_path / "cache"), "-o", "same.jsonl"]
        first = start(args, tmp_path)
        try:
            assert server.wait_for(lambda s: sum(s.successes.values()) >= 2, timeout=30)
            second = run_cli(args, tmp_path, timeout=30)
            _, first_err = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
    assert second.returncode == 3, second.stderr
    assert f"another paper-agent run (pid {first.pid}) is writing this output" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1 and "Traceback" not in second.stderr
    assert first.returncode == 0, first_err
    rows = read_jsonl(tmp_path / "same.jsonl")
    assert [r["id"] for r in rows] == [p["id"] for p in papers]
    assert sorted(p.name for p in tmp_path.glob("same.jsonl*")) == ["same.jsonl"]  # no lock, no partial left
    again = run_cli(args, tmp_path, timeout=30)  # the lock went with the first run
    assert again.returncode == 0, again.stderr


def interrupt_midway(proc: subprocess.Popen[str], server: FakeServer, sig: int) -> str:
    """Send ``sig`` once the server has answered a few chat requests; the child's stderr."""
    try:
        assert server.wait_for(lambda s: sum(s.successes.values()) >= 4, timeout=60)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return stderr


def test_sigterm_mid_run_says_interrupted_and_exits_143(tmp_path: Path) -> None:
    write_papers(tmp_path / "papers.jsonl", 200, seed=42)
    with FakeServer(latency=0.2, seed=5) as server:  # 20 s of work: the signal always lands mid-run
        args = ["run", "papers.jsonl", *openai_args(server, jobs=2, cache_dir=tmp_path / "cache"), "-o", "out.jsonl"]
        proc = start(args, tmp_path)
        stderr = interrupt_midway(proc, server, signal.SIGTERM)
    assert proc.returncode == 143, stderr
    assert "interrupted: finished results are in the cache and out.jsonl.partial; run again to resume" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "out.jsonl").exists()


def test_sigint_during_batch_collect_repair_says_interrupted_and_exits_130(tmp_path: Path) -> None:
    from agent import Agent, batch_submit

    write_papers(tmp_path / "papers.jsonl", 200, seed=43)
    cache = tmp_path / "cache"
    # Every line expires unanswered, so --repair asks all 200 online: 2 at a time at 0.2 s a call
    # is 20 s of work, so the signal always lands mid-run (at 8 at a time a quiet machine finished
    # the 5 s of work before the signal arrived).
    with FakeServer(latency=0.2, seed=6, batch_fate="expired") as server:
        agent = Agent(backend="openai", base_url=server.base_url, api_key="sk-test", model="fake", cache_dir=cache)
        (batch_id,) = batch_submit([tmp_path / "papers.jsonl"], agent).batch_ids
        agent.close()
        args = ["batch", "collect", batch_id, "--repair", "-o", "out.jsonl", "--cache-dir", str(cache)]
        env = clean_env(
            tmp_path,
            {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": server.base_url, "PAPER_AGENT_CONCURRENCY": "2"},
        )
        proc = subprocess.Popen(
            paper_agent_cmd() + args,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        stderr = interrupt_midway(proc, server, signal.SIGINT)
    assert proc.returncode == 130, stderr
    assert "interrupted: finished results are in the cache" in stderr and "run again to resume" in stderr
    assert "Traceback" not in stderr and not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", [["eval", "-o", "eval-gpt"], ["run", str(DIGEST), "-o", "out.jsonl"]])
def test_model_without_an_endpoint_is_refused_not_run_offline(tmp_path: Path, command: list[str]) -> None:
    result = run_cli([*command, "--model", "gpt-4o-mini"], tmp_path)
    assert result.returncode == 2, result.stderr
    (line,) = error_lines(result.stderr)
    assert "--model gpt-4o-mini: no LLM endpoint configured; set OPENAI_API_KEY" in line
    assert "Traceback" not in result.stderr and not list(tmp_path.glob("eval-gpt*")) + list(tmp_path.glob("out*"))


def test_batch_list_and_status_show_full_ids_at_80_columns_and_as_json(tmp_path: Path) -> None:
    from agent.bulk import RecordStore

    cache = tmp_path / "cache"
    record = RecordStore(cache).new(status="completed", model="gpt-4o-mini", base_url="https://api.openai.com/v1")
    record.batch_id, record.requests = "batch_68f0a1b2c3d4e5f60718293a4b5c6d7e", 300
    record.save()
    env = clean_env(tmp_path, {"COLUMNS": "80"})
    for command in (["batch", "list"], ["batch", "status"]):
        shown = run_cli([*command, "--cache-dir", cache], tmp_path, env)
        assert shown.returncode == 0, shown.stderr
        assert record.batch_id in shown.stderr and record.local_id in shown.stderr
        listed = run_cli([*command, "--json", "--cache-dir", cache], tmp_path, env)
        assert listed.returncode == 0, listed.stderr
        (row,) = json.loads(listed.stdout)
        assert (row["batch_id"], row["local_id"], row["status"], row["requests"]) == (
            record.batch_id,
            record.local_id,
            "completed",
            300,
        )
