"""Offline backend throughput over 10,000 papers; target >= 2,000 papers/s.

    python bench/offline.py [--papers 10000] [--repeats 3] [--profile]

Through ``Agent(backend="offline", cache=False).analyze_many`` and again with the cache on
(cold: every result computed and written; warm: every result a cache hit).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import tempfile
import time
from pathlib import Path

from common import header, median, synth, to_papers, verdict

TARGET = 2000.0


def timed(agent, papers) -> float:  # noqa: ANN001
    t = time.perf_counter()
    n = sum(1 for _ in agent.analyze_many(papers))
    assert n == len(papers)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--papers", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--abstract-chars", type=int, default=1200)
    p.add_argument("--profile", action="store_true")
    a = p.parse_args()
    header("offline backend")
    from agent import Agent

    papers = to_papers(synth.papers(a.papers, seed=4, abstract_chars=a.abstract_chars))
    n = len(papers)
    agent = Agent(backend="offline", cache=False)
    timed(agent, papers[:200])  # warm regex compilation
    runs = [timed(agent, papers) for _ in range(a.repeats)]
    m = median(runs)
    print(f"cache off: median {m:.2f} s = {n / m:.0f} papers/s (runs {', '.join(f'{x:.2f}' for x in runs)})")
    print(f"target: >= {TARGET:.0f} papers/s -> {verdict(n / m >= TARGET)}")

    cold, warm = [], []
    for _ in range(a.repeats):
        tmp = Path(tempfile.mkdtemp(prefix="bench-offline-"))
        try:
            agent = Agent(backend="offline", cache_dir=tmp / "cache")
            cold.append(timed(agent, papers))
            warm.append(timed(agent, papers))
            agent.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"cache on, cold (compute + write): median {median(cold):.2f} s = {n / median(cold):.0f} papers/s")
    print(f"cache on, warm (all hits):        median {median(warm):.2f} s = {n / median(warm):.0f} papers/s")

    if a.profile:
        agent = Agent(backend="offline", cache=False)
        prof = cProfile.Profile()
        prof.enable()
        timed(agent, papers[:2000])
        prof.disable()
        s = io.StringIO()
        pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(20)
        print(s.getvalue())


if __name__ == "__main__":
    main()
