"""Helpers shared by the benchmarks: a fake server in its own process, timing, machine info."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import synth  # noqa: E402


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load avg {load:.2f}"


def header(name: str) -> None:
    print(f"# {name} -- {time.strftime('%Y-%m-%d %H:%M')} -- {machine()}", flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def repeat(fn: Callable[[], float], n: int) -> list[float]:
    return [fn() for _ in range(n)]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


@contextlib.contextmanager
def server_process(*args: str) -> Iterator[str]:
    """``bench/fake_server.py`` in a child process (the other core); yields its base URL."""
    cmd = [sys.executable, str(BENCH / "fake_server.py"), "--port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"fake server did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/stats", timeout=10) as r:
        return json.loads(r.read())


def to_papers(records: Iterator[dict]) -> list:
    from agent.schema import Paper

    return [
        Paper(
            id=r["id"],
            title=r["title"],
            authors=r["authors"],
            abstract=r["abstract"],
            url=f"https://arxiv.org/abs/{r['id']}",
        )
        for r in records
    ]


def paper_agent() -> list[str]:
    script = Path(sys.executable).with_name("paper-agent")
    return [str(script)] if script.exists() else [sys.executable, "-m", "agent.cli"]


def clean_env(cache_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "PAPER_AGENT_"))}
    env["XDG_CACHE_HOME"] = str(cache_home)
    return env


__all__ = [
    "synth",
    "machine",
    "header",
    "median",
    "repeat",
    "verdict",
    "server_process",
    "server_stats",
    "to_papers",
    "paper_agent",
    "clean_env",
    "ROOT",
    "BENCH",
]
