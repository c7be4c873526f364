"""Re-running a batch whose results are all cached: 10,000 papers, target >= 5,000 papers/s.

    python bench/cached_rerun.py [--papers 10000] [--repeats 5] [--profile]

1. Writes 10,000 synthetic papers (~1,200-char abstracts) as JSONL in a temp dir.
2. Fills a private cache by running them once against the fake server (latency 0, conc 64).
3. Times ``paper-agent run papers.jsonl --backend openai --base-url URL --model fake
   --cache-dir DIR -o out.jsonl`` as a subprocess (process start included), and the same
   through the Python API (``triage``) in-process (process start and imports excluded).
   Checks the server saw no new request.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import clean_env, header, median, paper_agent, server_process, server_stats, synth, verdict

TARGET = 5000.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--papers", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile", action="store_true")
    a = p.parse_args()
    header("cached re-run")
    from agent import Agent
    from agent.inputs import load_papers
    from agent.triage import triage

    tmp = Path(tempfile.mkdtemp(prefix="bench-cached-"))
    try:
        papers = synth.write_jsonl(tmp / "papers.jsonl", synth.papers(a.papers, seed=2), ai_enhanced=False)
        cache = tmp / "cache"
        with server_process("--latency", "0") as url:
            agent = Agent(backend="openai", base_url=url, api_key="x", model="fake", concurrency=64, cache_dir=cache)
            t = time.perf_counter()
            stats = triage([papers], agent, output=tmp / "fill.jsonl")
            fill = time.perf_counter() - t
            agent.close()
            print(
                f"fill: {stats.total} papers ({stats.statuses}) in {fill:.1f} s = {stats.total / fill:.0f} papers/s "
                f"(latency 0, conc 64: client CPU bound)"
            )
            before = server_stats(url)["requests"]

            cmd = [
                *paper_agent(),
                "run",
                str(papers),
                "--backend",
                "openai",
                "--base-url",
                url,
                "--model",
                "fake",
                "--cache-dir",
                str(cache),
                "-o",
                str(tmp / "out.jsonl"),
            ]
            cli = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                r = subprocess.run(cmd, env=clean_env(tmp / "xdg"), capture_output=True, text=True, cwd=tmp)
                cli.append(time.perf_counter() - t)
                if r.returncode != 0:
                    raise SystemExit(r.stderr)
            startup = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                subprocess.run([*paper_agent(), "--help"], env=clean_env(tmp / "xdg"), capture_output=True, cwd=tmp)
                startup.append(time.perf_counter() - t)

            api, ingest = [], []
            for i in range(a.repeats + 1):
                t = time.perf_counter()
                load_papers(papers)
                ingest.append(time.perf_counter() - t)
                agent = Agent(backend="openai", base_url=url, api_key="x", model="fake", cache_dir=cache)
                prof = cProfile.Profile() if (a.profile and i == a.repeats) else None
                t = time.perf_counter()
                if prof:
                    prof.enable()
                stats = triage([papers], agent, output=tmp / "api.jsonl")
                if prof:
                    prof.disable()
                elapsed = time.perf_counter() - t
                agent.close()
                if i > 0:  # the first run warms imports
                    api.append(elapsed)
                assert stats.cached == a.papers, stats.cached
                if prof:
                    s = io.StringIO()
                    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
                    print(s.getvalue())
            after = server_stats(url)["requests"]
        n = a.papers
        print(f"\nnew requests during the re-runs: {after - before} (expected 0)")
        print(
            f"CLI subprocess, process start included: median {median(cli):.2f} s = {n / median(cli):.0f} papers/s "
            f"(runs {', '.join(f'{x:.2f}' for x in cli)})"
        )
        print(f"  of which `paper-agent --help` start-up: median {median(startup):.2f} s")
        print(
            f"Python API (triage), imports excluded: median {median(api):.2f} s = {n / median(api):.0f} papers/s "
            f"(runs {', '.join(f'{x:.2f}' for x in api)})"
        )
        print(f"  of which load_papers: median {median(ingest):.2f} s")
        print(
            f"target: >= {TARGET:.0f} papers/s -> CLI {verdict(n / median(cli) >= TARGET)}, "
            f"API {verdict(n / median(api) >= TARGET)}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
