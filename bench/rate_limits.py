"""Wall time of a ``-j 32`` run when a share of the endpoint's replies are 429s (issue 8, item 13).

    python bench/rate_limits.py [--papers 640] [--latency 0.2] [--repeats 3]

``paper-agent run papers.jsonl --backend openai --no-cache -j 32`` as a subprocess against
``bench/fake_server.py --rate-429 R --retry-after 0.05`` for R = 0, 10 % and 20 %: each
request independently draws a 429 (with ``Retry-After: 0.05``) at rate R, answered at once;
the others are answered after ``--latency``. Prints the run's own elapsed time (the CLI's
summary), its ratio to the 0 % run, the requests the server saw and the concurrency limit
after its last decrease (from the ``concurrency lowered`` lines of ``-v``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
from pathlib import Path

from common import clean_env, header, median, paper_agent, server_process, server_stats, synth

ELAPSED_RE = re.compile(r"elapsed\D*?([\d.]+) s")
LOWERED_RE = re.compile(r"concurrency lowered to (\d+)")


def one(url: str, papers: Path, tmp: Path, conc: int) -> tuple[float, int, int, str]:
    """(elapsed s, requests, rows ok, last limit) for one run."""
    out = tmp / "out.jsonl"
    cmd = paper_agent() + [
        "run",
        str(papers),
        "--backend",
        "openai",
        "--base-url",
        url,
        "--model",
        "fake",
        "--no-cache",
        "-j",
        str(conc),
        "-o",
        str(out),
        "-v",
    ]
    env = clean_env(tmp)
    env["OPENAI_API_KEY"] = "x"
    before = server_stats(url)["requests"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-800:])
    match = ELAPSED_RE.search(proc.stderr)
    lowered = LOWERED_RE.findall(proc.stderr)
    ok = sum(1 for line in open(out, encoding="utf-8") if '"status":"ok"' in line)
    limit = lowered[-1] if lowered else "-"  # "-": never lowered, or code that does not log it
    return (float(match.group(1)) if match else wall), server_stats(url)["requests"] - before, ok, limit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--papers", type=int, default=640)
    p.add_argument("--latency", type=float, default=0.2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    a = p.parse_args()
    header("rate limits")
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        papers = synth.write_jsonl(tmp / "papers.jsonl", synth.papers(a.papers, seed=3, abstract_chars=1200))
        for rate in (0.0, 0.1, 0.2):
            args = ["--latency", str(a.latency), "--rate-429", str(rate), "--retry-after", "0.05", "--seed", "1"]
            with server_process(*args) as url:
                runs = [one(url, papers, tmp, a.concurrency) for _ in range(a.repeats)]
            rows.append((rate, runs))
    base = median([r[0] for r in rows[0][1]])
    print(
        f"\n{a.papers} papers, -j {a.concurrency}, latency {a.latency:g} s, Retry-After 0.05 s, {a.repeats} repeats (median)"
    )
    print("| 429 share | elapsed s (median) | runs | vs no 429s | requests | rows ok | limit at the end |")
    print("|---|---|---|---|---|---|---|")
    for rate, runs in rows:
        elapsed = median([r[0] for r in runs])
        print(
            f"| {100 * rate:.0f} % | {elapsed:.1f} | {', '.join(f'{r[0]:.1f}' for r in runs)} | {elapsed / base:.2f}x | "
            f"{runs[-1][1]} | {min(r[2] for r in runs)}/{a.papers} | {runs[-1][3]} |"
        )


if __name__ == "__main__":
    main()
