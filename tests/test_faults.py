"""Fault injection against the fake OpenAI server: every paper accounted for, retries bounded,
nothing paid for twice after a crash, a broken cache or a broken output path.

Fast and bounded: 5-50 ms fake latency, a 0.5 s client timeout and 0.05 s longest backoff.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import pytest
from fake_server_fixtures import (
    CORPUS,
    FakeServer,
    clean_env,
    error_lines,
    fake_server,
    openai_args,
    paper_agent_cmd,
    read_jsonl,
    run_cli,
    write_papers,
)

from agent import Agent, Paper, Settings
from agent.triage import triage


def fast_settings(tmp_path: Path, **kw: object) -> Settings:
    values: dict[str, object] = dict(
        timeout=0.5,
        retry_max_wait=0.05,
        retry_attempts=6,
        retry_total=30,
        max_retries=2,
        cache_dir=tmp_path / "cache",
    )
    values.update(kw)
    return Settings(**values)  # type: ignore[arg-type]


def run_api(tmp_path: Path, server: FakeServer, n: int, settings: Settings, concurrency: int = 16, **agent_kw: object):
    papers = write_papers(tmp_path / "papers.jsonl", n, seed=n)
    agent = Agent(
        backend="openai",
        base_url=server.base_url,
        api_key="x",
        model="fake",
        concurrency=concurrency,
        settings=settings,
        **agent_kw,  # type: ignore[arg-type]
    )
    try:
        stats = triage([tmp_path / "papers.jsonl"], agent, output=tmp_path / "out.jsonl")
    finally:
        agent.close()
    return papers, read_jsonl(tmp_path / "out.jsonl"), stats


def cached_titles(cache_dir: Path) -> set[str]:
    titles = set()
    with diskcache.Cache(str(cache_dir)) as dc:
        for key in dc.iterkeys():
            try:
                titles.add(json.loads(dc.get(key))["result"]["title"])
            except Exception:
                pass
    return titles


# ---------------------------------------------------------------------------- transport faults


def test_mixed_faults_leave_every_paper_accounted_for_in_order(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path)
    with FakeServer(
        latency=0.01,
        spread=0.005,
        seed=7,
        rate_429=0.20,
        rate_500=0.05,
        rate_hang=0.02,
        rate_malformed=0.05,
        hang_seconds=1.0,
    ) as server:
        papers, rows, stats = run_api(tmp_path, server, 200, settings)
        requests, faults = server.requests, server.faults

    assert [r["id"] for r in rows] == [p["id"] for p in papers]  # none missing, none duplicated
    for r in rows:
        assert r["status"] in ("ok", "invalid", "error")
        assert r["status"] == "ok" or r["error"], r
    assert stats.statuses["ok"] >= 190, stats.statuses
    assert all(faults.get(kind, 0) > 0 for kind in ("rate_limit", "server_error", "hang", "malformed")), faults
    assert set(requests) == {p["title"] for p in papers}
    assert max(requests.values()) <= settings.retry_attempts * (settings.max_retries + 1)
    # Usage counts every request the server saw, failed attempts and re-asks included.
    assert {r["title"]: r["usage"]["attempts"] for r in rows} == requests


def test_json_mode_reasks_on_malformed_and_schema_invalid_output(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, mode="json")
    with FakeServer(latency=0.005, seed=3, rate_malformed=0.15, rate_invalid=0.15) as server:
        papers, rows, _ = run_api(tmp_path, server, 60, settings)
        requests = server.requests
    assert [r["id"] for r in rows] == [p["id"] for p in papers]
    assert sum(r["status"] == "ok" for r in rows) >= 55
    assert all(r["status"] == "ok" or (r["status"] == "invalid" and r["error"]) for r in rows)
    assert sum(requests.values()) > 60  # re-asks happened
    assert max(requests.values()) <= settings.max_retries + 1  # no transport faults: re-asks only


def test_always_invalid_output_ends_invalid_after_bounded_reasks(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, max_retries=1)
    with FakeServer(latency=0.005, rate_invalid=1.0) as server:
        _, rows, _ = run_api(tmp_path, server, 8, settings)
        requests = server.requests
    assert {r["status"] for r in rows} == {"invalid"}
    assert all("failed validation" in r["error"] and "primary" in r["error"] for r in rows), rows[0]["error"]
    assert set(requests.values()) == {2}  # 1 call + 1 re-ask


def test_endless_429s_end_in_error_after_retry_attempts(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, retry_attempts=4)
    with FakeServer(rate_429=1.0, retry_after=0.01) as server:
        _, rows, _ = run_api(tmp_path, server, 8, settings, concurrency=4)
        requests = server.requests
    assert {r["status"] for r in rows} == {"error"}
    assert all("RateLimitError" in r["error"] for r in rows), rows[0]["error"]
    assert set(requests.values()) == {4}


def test_hanging_server_ends_in_timeout_errors_within_the_bound(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path, retry_attempts=2, timeout=0.3)
    started = time.perf_counter()
    with FakeServer(rate_hang=1.0, hang_seconds=1.0) as server:
        _, rows, _ = run_api(tmp_path, server, 4, settings, concurrency=4)
        requests = server.requests
    assert {r["status"] for r in rows} == {"error"}
    assert all("Timeout" in r["error"] for r in rows), rows[0]["error"]
    assert set(requests.values()) == {2}
    assert time.perf_counter() - started < 10


# ---------------------------------------------------------------------------- crash and resume


def test_sigkill_mid_run_then_rerun_finishes_without_repeating_paid_calls(tmp_path: Path) -> None:
    papers = write_papers(tmp_path / "papers.jsonl", 80, seed=21)
    cache = tmp_path / "cache"
    with FakeServer(latency=0.05, seed=1) as server:
        args = ["run", "papers.jsonl", *openai_args(server, jobs=4, cache_dir=cache), "-o", "out.jsonl"]
        with open(tmp_path / "first.stderr", "w") as err:
            proc = subprocess.Popen(
                paper_agent_cmd() + args, cwd=tmp_path, env=clean_env(tmp_path), stdout=subprocess.DEVNULL, stderr=err
            )
            try:
                assert server.wait_for(lambda s: sum(s.successes.values()) >= 20, timeout=30)
                # Hold every later reply, give the client time to cache the replies it already
                # has, then take the server's snapshot and kill: no race between the two.
                server.pause()
                time.sleep(0.5)
                before, done = server.requests, server.successes
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode == -signal.SIGKILL
        assert 20 <= len(done) < len(papers)
        server.resume()
        second = run_cli(args, cwd=tmp_path)
        after = server.requests

    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in rows] == [p["id"] for p in papers]
    assert {r["status"] for r in rows} == {"ok"}
    repeated = {t: after[t] - before[t] for t in done if after[t] != before[t]}
    assert repeated == {}, f"papers paid for twice after the kill: {repeated}"
    assert sum(r["cached"] for r in rows) >= len(done)


def test_corrupted_cache_entries_are_recomputed(tmp_path: Path) -> None:
    write_papers(tmp_path / "papers.jsonl", 30, seed=31)
    # Three "big collaboration" papers: a result over 32 kB is stored in a diskcache value file.
    big = write_papers(
        tmp_path / "big.jsonl", 3, seed=32, authors=[f"Member {i} of the Collaboration" for i in range(1500)]
    )
    big = [{**b, "id": f"2599.{i:05d}"} for i, b in enumerate(big)]
    (tmp_path / "big.jsonl").write_text("".join(json.dumps(b) + "\n" for b in big))
    cache = tmp_path / "cache"
    with FakeServer(latency=0.005) as server:
        args = ["run", "papers.jsonl", "big.jsonl", *openai_args(server, jobs=8, cache_dir=cache)]
        first = run_cli([*args, "-o", "first.jsonl"], cwd=tmp_path)
        assert first.returncode == 0, first.stderr

        corrupted = {b["title"] for b in big}
        with diskcache.Cache(str(cache)) as dc:  # four small entries become invalid JSON
            for key in list(dc.iterkeys()):
                title = json.loads(dc.get(key))["result"]["title"]
                if title not in corrupted and len(corrupted) < 7:
                    dc.set(key, "garbage")
                    corrupted.add(title)
        value_files = sorted(cache.rglob("*.val"))  # the three big entries: garbage on disk
        assert len(value_files) == 3
        value_files[0].write_bytes(b"\xff\xfe\x00\x81garbage" * 64)  # not UTF-8
        value_files[1].write_bytes(b"plain text, not JSON")
        value_files[2].write_bytes(b'{"v": 1, "result": {"id": "2599.')  # truncated JSON
        before = server.requests

        second = run_cli([*args, "-o", "second.jsonl"], cwd=tmp_path)
        middle = server.requests
        third = run_cli([*args, "-o", "third.jsonl"], cwd=tmp_path)
        after = server.requests

    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    rows = read_jsonl(tmp_path / "second.jsonl")
    assert len(rows) == 33 and {r["status"] for r in rows} == {"ok"}
    recomputed = {t for t in middle if middle[t] != before.get(t, 0)}
    assert recomputed == corrupted
    assert all(not r["cached"] for r in rows if r["title"] in corrupted)
    assert third.returncode == 0 and after == middle  # the recomputed entries replaced the bad ones


# ---------------------------------------------------------------------------- unwritable outputs


def _drop_dac_override() -> None:
    """preexec_fn: remove CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH from the child's bounding set,
    so file modes bind a root child too (it loses them at exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _writable_in_child(path: Path, preexec: object) -> bool:
    probe = [sys.executable, "-c", f"import os,sys; sys.exit(0 if os.access({str(path)!r}, os.W_OK) else 1)"]
    try:
        return subprocess.run(probe, preexec_fn=preexec, timeout=30).returncode == 0  # type: ignore[arg-type]
    except (OSError, subprocess.SubprocessError):
        return True


def test_read_only_output_dir_fails_cleanly_before_any_paid_call(tmp_path: Path) -> None:
    papers = write_papers(tmp_path / "papers.jsonl", 10, seed=41)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    preexec = None
    if os.access(ro, os.W_OK):  # root: the mode alone binds nobody
        preexec = _drop_dac_override
        if _writable_in_child(ro, preexec):
            pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE: chmod 0o500 has no effect")
    cache = tmp_path / "cache"
    try:
        with FakeServer(latency=0.005) as server:
            args = ["run", "papers.jsonl", *openai_args(server, cache_dir=cache)]
            bad = run_cli([*args, "-o", ro / "out.jsonl"], cwd=tmp_path, preexec_fn=preexec)
            spent = server.total_requests
            good = run_cli([*args, "-o", "good.jsonl"], cwd=tmp_path)
    finally:
        ro.chmod(0o700)

    assert bad.returncode == 3, bad.stderr
    assert "Traceback" not in bad.stderr
    lines = error_lines(bad.stderr)
    assert len(lines) == 1 and str(ro / "out.jsonl") in lines[0] and "ermission denied" in lines[0], bad.stderr
    assert spent == 0  # fails before anything is paid for, so there is nothing to lose
    assert good.returncode == 0, good.stderr
    assert [r["id"] for r in read_jsonl(tmp_path / "good.jsonl")] == [p["id"] for p in papers]


def test_output_on_a_full_disk_fails_cleanly_and_keeps_finished_results_in_the_cache(tmp_path: Path) -> None:
    """ENOSPC from a real /dev/full: the writer's ``<out>.partial`` is a symlink to it (pointing
    ``-o`` at /dev/full itself is unsafe as root: see test_output_to_a_character_device_writes_to_the_device)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    papers = write_papers(tmp_path / "papers.jsonl", 40, seed=51)
    (tmp_path / "out.jsonl.partial").symlink_to("/dev/full")
    cache = tmp_path / "cache"
    with FakeServer(latency=0.02) as server:
        args = ["run", "papers.jsonl", *openai_args(server, jobs=8, cache_dir=cache)]
        bad = run_cli([*args, "-o", "out.jsonl"], cwd=tmp_path)
        kept = cached_titles(cache)
        before = server.requests
        good = run_cli([*args, "-o", "good.jsonl"], cwd=tmp_path)
        after = server.requests

    assert bad.returncode == 3, bad.stderr
    assert "Traceback" not in bad.stderr
    lines = error_lines(bad.stderr)
    assert len(lines) == 1 and "No space left on device" in lines[0], bad.stderr
    assert kept, "nothing computed before the write failed"
    assert good.returncode == 0, good.stderr
    rows = read_jsonl(tmp_path / "good.jsonl")
    assert [r["id"] for r in rows] == [p["id"] for p in papers] and {r["status"] for r in rows} == {"ok"}
    assert all(after[t] == before[t] for t in kept)  # zero new requests for what was computed
    assert sum(r["cached"] for r in rows) == len(kept)


def test_output_to_a_character_device_writes_to_the_device(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # As root the bug would replace the real /dev/full: use a private node with its numbers.
        dev = tmp_path / "full"
        try:
            os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        except PermissionError:
            pytest.skip("cannot create a device node, and the real /dev/full is not safe to use as root")
    else:
        dev = Path("/dev/full")
    r = run_cli(["run", CORPUS / "small_digest.md", "--backend", "offline", "--no-cache", "-o", dev], cwd=tmp_path)
    assert stat.S_ISCHR(os.stat(dev).st_mode), "the device node was replaced by a regular file"
    assert r.returncode == 3 and "No space left on device" in r.stderr, r.stderr


# ---------------------------------------------------------------------------- found while fault-testing


def test_paper_text_reaches_the_model_verbatim(tmp_path: Path) -> None:
    sent: list[str] = []
    abstracts = [
        "We bound the regret by {{ 7*7 }} and propose a dense retriever with strong gains.",
        "We define the kernel {{\\bf x}}^T {{\\bf y}} and propose a graph recommender.",
        "We study {# sets #} of users and propose a session-based recommender.",
    ]
    with FakeServer(on_request=lambda r: sent.append(fake_server.paper_key(r)[1])) as server:
        agent = Agent(
            backend="openai",
            base_url=server.base_url,
            api_key="sk-test-key-123456",
            model="fake",
            settings=fast_settings(tmp_path),
            cache=False,
        )
        papers = [Paper(id=f"2501.0000{i}", title=f"Braces {i}", abstract=a) for i, a in enumerate(abstracts)]
        rows = list(agent.analyze_many(papers))
    assert [r.status for r in rows] == ["ok", "ok", "ok"], [r.error for r in rows]
    assert set(abstracts) <= set(sent)


def test_a_short_api_key_does_not_garble_error_messages(tmp_path: Path) -> None:
    with FakeServer(rate_500=1.0) as server:
        agent = Agent(
            backend="openai",
            base_url=server.base_url,
            api_key="e",
            model="fake",
            settings=fast_settings(tmp_path, retry_attempts=1),
            cache=False,
        )
        (row,) = list(agent.analyze_many([Paper(id="2501.00001", title="T", abstract="We propose a retriever.")]))
    assert row.status == "error"
    assert "InternalServerError" in row.error and "internal error" in row.error, row.error


def test_sigint_mid_run_exits_130_and_keeps_rows_in_the_partial_file_only(tmp_path: Path) -> None:
    write_papers(tmp_path / "papers.jsonl", 200, seed=22)
    (tmp_path / "out.jsonl").write_text("earlier complete output\n", encoding="utf-8")
    with FakeServer(latency=0.2, seed=2) as server:  # 20 s of work: SIGINT always lands mid-run
        args = ["run", "papers.jsonl", *openai_args(server, jobs=2, cache_dir=tmp_path / "cache"), "-o", "out.jsonl"]
        proc = subprocess.Popen(
            paper_agent_cmd() + args,
            cwd=tmp_path,
            env=clean_env(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            # A test run in the background inherits SIGINT ignored; give the child the default.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            assert server.wait_for(lambda s: sum(s.successes.values()) >= 4, timeout=60)
            proc.send_signal(signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted: finished results are in the cache and out.jsonl.partial" in stderr
    assert "Traceback" not in stderr
    assert (tmp_path / "out.jsonl").read_text(encoding="utf-8") == "earlier complete output\n"
    assert 1 <= len(read_jsonl(tmp_path / "out.jsonl.partial")) < 200
