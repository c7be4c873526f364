"""Build the Batch-API request file for 100,000 papers: time and peak memory (it must stream).

    python bench/batch_export.py [--papers 100000] [--abstract-chars 1200] [--small 10000] [--collect 10000]

Runs ``paper-agent batch export papers.jsonl -o requests.jsonl --model gpt-4o-mini`` (empty
cache, so every paper becomes a request) as its own process under ``/usr/bin/time -v``, once
for ``--small`` papers and once for ``--papers``: streaming means the peak RSS of the big run is
about the small one's, not ten times it. Then checks the file (one line per paper, unique
custom_ids) and reports how ``batch submit`` would split it at the API's limits.

``--collect N`` then times the way back in-process: ``batch_submit`` of N papers to the fake
server's Batch API (in this process, over sockets), and ``batch_collect`` (download, validate
every reply with the online response model, write the cache and a JSONL output).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from common import clean_env, header, paper_agent, synth, verdict
from memory import peak_rss_mb

TARGET_MB = 300.0


def export(n: int, tmp: Path, abstract_chars: int) -> dict:
    folder = tmp / f"n{n}"
    folder.mkdir()
    papers = synth.write_jsonl(folder / "papers.jsonl", synth.papers(n, seed=11, abstract_chars=abstract_chars))
    cmd = [
        *paper_agent(),
        "batch",
        "export",
        str(papers),
        "-o",
        str(folder / "requests.jsonl"),
        "--model",
        "gpt-4o-mini",
        "--cache-dir",
        str(folder / "cache"),
    ]
    mb, wall = peak_rss_mb(cmd, clean_env(folder / "xdg"), folder)
    requests = folder / "requests.jsonl"
    manifest = folder / "requests.manifest.jsonl"
    ids: set[str] = set()
    sizes: list[int] = []
    with requests.open("rb") as f:
        for line in f:
            ids.add(json.loads(line)["custom_id"])
            sizes.append(len(line))
    return {
        "n": n,
        "mb": mb,
        "wall": wall,
        "lines": len(sizes),
        "unique": len(ids),
        "bytes": requests.stat().st_size,
        "manifest": manifest.stat().st_size,
        "input": papers.stat().st_size,
        "sizes": sizes,
    }


def batches(sizes: list[int], max_lines: int = 50_000, max_bytes: int = 200 * 1024 * 1024) -> list[int]:
    """Lines per batch when ``batch submit`` splits at the API limits (same rule as agent.bulk.jobs)."""
    out, lines, size = [], 0, 0
    for s in sizes:
        if lines and (lines >= max_lines or size + s > max_bytes):
            out.append(lines)
            lines, size = 0, 0
        lines += 1
        size += s
    return out + ([lines] if lines else [])


def collect(n: int, tmp: Path, abstract_chars: int) -> None:
    import time

    import fake_server

    from agent import Agent, Settings, batch_collect, batch_submit

    folder = tmp / f"collect{n}"
    folder.mkdir()
    papers = synth.write_jsonl(folder / "papers.jsonl", synth.papers(n, seed=12, abstract_chars=abstract_chars))
    with fake_server.FakeServer(batch_polls=1) as server:
        agent = Agent(
            backend="openai", base_url=server.base_url, api_key="x", model="gpt-4o-mini", cache_dir=folder / "c"
        )
        t = time.perf_counter()
        ids = batch_submit([papers], agent).batch_ids
        submit_s = time.perf_counter() - t
        t = time.perf_counter()
        report = batch_collect(
            ids,
            settings=Settings(base_url=server.base_url, api_key="x", cache_dir=folder / "c"),
            output=folder / "out.jsonl",
        )
        collect_s = time.perf_counter() - t
        chat = server.total_requests
    ok = report.stats.statuses["ok"]
    print(
        f"\nsubmit {n:,} papers ({len(ids)} batch(es)): {submit_s:.1f} s; collect (incl. the fake server running the "
        f"batch): {collect_s:.1f} s = {n / collect_s:,.0f} papers/s; {ok:,} ok, {chat} chat requests "
        f"-> {verdict(ok == n and chat == 0)}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--papers", type=int, default=100_000)
    p.add_argument("--small", type=int, default=10_000)
    p.add_argument("--abstract-chars", type=int, default=1200)
    p.add_argument("--collect", type=int, default=10_000, help="papers for the submit + collect timing (0: skip)")
    a = p.parse_args()
    header("batch export")
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-export-"))
    try:
        print(
            "| papers | input MiB | wall s | papers/s | peak RSS MB | request file MiB | manifest MiB | mean line bytes |"
        )
        print("|---|---|---|---|---|---|---|---|")
        runs = []
        for n in (a.small, a.papers):
            r = export(n, tmp, a.abstract_chars)
            runs.append(r)
            print(
                f"| {n:,} | {r['input'] / 2**20:.0f} | {r['wall']:.1f} | {n / r['wall']:,.0f} | {r['mb']:.0f} | "
                f"{r['bytes'] / 2**20:.0f} | {r['manifest'] / 2**20:.0f} | {r['bytes'] / r['lines']:,.0f} |",
                flush=True,
            )
            shutil.rmtree(tmp / f"n{n}" / "cache", ignore_errors=True)
        small, big = runs
        split = batches(big["sizes"])
        print(
            f"\n`batch submit` would split the {big['n']:,} requests into {len(split)} batches of {', '.join(f'{x:,}' for x in split)} lines "
            "(50,000 lines / 200 MiB per batch)"
        )
        ok = big["lines"] == big["unique"] == big["n"] and small["lines"] == small["n"]
        flat = big["mb"] < 1.5 * small["mb"]
        print(f"one line per paper, unique custom_ids: {verdict(ok)}")
        print(
            f"streams: peak RSS {big['mb']:.0f} MB for {big['n']:,} vs {small['mb']:.0f} MB for {small['n']:,} "
            f"-> {verdict(flat)}; target < {TARGET_MB:.0f} MB -> {verdict(big['mb'] < TARGET_MB)}"
        )
        if a.collect:
            collect(a.collect, tmp, a.abstract_chars)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
