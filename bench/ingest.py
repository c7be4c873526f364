"""``load_papers`` on a 10,000-paper file in each input format; target < 1 s each.

    python bench/ingest.py [--papers 10000] [--repeats 5] [--profile FORMAT]

Files: digest-md (daily-arXiv style: Chinese TL;DR, <details>, abstracts wrapped at 80
columns), table-md (arXiv Daily Report table, every row running on to a second line), jsonl
(daily-arXiv-ai-enhanced records with an AI{tldr,...} object), atom (arXiv API feed).
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

from common import header, median, synth, verdict

TARGET_S = 1.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--papers", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile", default=None, help="cProfile one format")
    a = p.parse_args()
    header("ingest")
    from agent.inputs import load_papers

    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        print(
            f"\n| format | file MB | papers read | load_papers s (median of {a.repeats}) | runs | papers/s | target < {TARGET_S:.0f} s |"
        )
        print("|---|---|---|---|---|---|---|")
        for fmt, write in synth.WRITERS.items():
            path = write(tmp / f"papers.{fmt}", synth.papers(a.papers, seed=3))
            load_papers(path)  # warm the page cache and imports
            runs = []
            for _ in range(a.repeats):
                t = time.perf_counter()
                got = load_papers(path)
                runs.append(time.perf_counter() - t)
            m = median(runs)
            print(
                f"| {fmt} | {path.stat().st_size / 1e6:.1f} | {len(got)} | {m:.3f} | "
                f"{', '.join(f'{x:.3f}' for x in runs)} | {len(got) / m:.0f} | {verdict(m < TARGET_S and len(got) == a.papers)} |"
            )
            if a.profile == fmt:
                prof = cProfile.Profile()
                prof.enable()
                load_papers(path)
                prof.disable()
                s = io.StringIO()
                pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(15)
                print(s.getvalue())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
