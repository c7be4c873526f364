"""Peak RSS of ``paper-agent run`` over 100,000 papers (offline, no cache); target < 300 MB.

    python bench/memory.py [--papers 100000] [--abstract-chars 1200] [--no-breakdown]

Peak RSS comes from ``/usr/bin/time -v`` when present, else from
``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a wrapper process. The breakdown runs the same
file through smaller steps, each in its own process, to show where the memory goes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import clean_env, header, paper_agent, synth, verdict

TARGET_MB = 300.0
WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_mb(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(peak RSS MB, wall s) of ``cmd``."""
    t = time.perf_counter()
    if os.path.exists("/usr/bin/time"):
        r = subprocess.run(["/usr/bin/time", "-v", *cmd], env=env, cwd=cwd, capture_output=True, text=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        if r.returncode != 0 or not m:
            raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
        kb = int(m.group(1))
    else:
        r = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
        kb = int(r.stdout.strip().splitlines()[-1])
    return kb / 1024, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--papers", type=int, default=100_000)
    p.add_argument("--abstract-chars", type=int, default=1200)
    p.add_argument("--no-breakdown", action="store_true")
    a = p.parse_args()
    header("memory")
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        path = synth.write_jsonl(tmp / "papers.jsonl", synth.papers(a.papers, seed=5, abstract_chars=a.abstract_chars))
        size = path.stat().st_size / 2**20
        env = clean_env(tmp / "xdg")
        print(f"input: {a.papers} papers, {size:.0f} MiB JSONL (daily-arXiv-ai-enhanced records)")
        steps: list[tuple[str, list[str]]] = []
        if not a.no_breakdown:
            py = sys.executable
            steps += [
                (
                    "import agent + offline backend only",
                    [py, "-c", "import agent.cli, agent.triage, agent.backends.offline"],
                ),
                (
                    "read_text(file) only",
                    [
                        py,
                        "-c",
                        f"from pathlib import Path; from agent.inputs import read_text; t = read_text(Path({str(path)!r}))",
                    ],
                ),
                (
                    "iter_papers, streamed and dropped",
                    [py, "-c", f"from agent.inputs import iter_papers\nfor _ in iter_papers([{str(path)!r}]): pass"],
                ),
            ]
        steps.append(
            (
                "paper-agent run --backend offline --no-cache -o out.jsonl",
                [*paper_agent(), "run", str(path), "--backend", "offline", "--no-cache", "-o", str(tmp / "out.jsonl")],
            )
        )
        print("\n| step | peak RSS MB | wall s |")
        print("|---|---|---|")
        full = 0.0
        for name, cmd in steps:
            mb, wall = peak_rss_mb(cmd, env, tmp)
            print(f"| {name} | {mb:.0f} | {wall:.1f} |", flush=True)
            full = mb
        rows = sum(1 for _ in open(tmp / "out.jsonl"))
        print(f"\noutput rows: {rows}")
        print(
            f"target: peak RSS < {TARGET_MB:.0f} MB -> {full:.0f} MB {verdict(full < TARGET_MB and rows == a.papers)}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
