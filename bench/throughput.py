"""Papers/s against the fake server, through the Python API (``Agent.analyze_many``).

    python bench/throughput.py                      # everything, 3 repeats, medians
    python bench/throughput.py --sections cpu --profile

Sections:
  sharded  our design (ceil(conc/PER_CLIENT) clients round-robin) at 1 s and 200 ms latency,
           concurrency 1, 8, 32, 128. Targets: at 1 s >= 90% of ideal (conc/latency) at every
           level; at 200 ms throughput never falls as concurrency rises.
  single   the same with PER_CLIENT monkeypatched huge: one httpx AsyncOpenAI client.
  cpu      our CPU per call in-process: httpx.MockTransport (no sockets), concurrency 1,
           500 papers end to end (prompt, instructor, validation, cache write, JSONL writer).
           Target < 3 ms/call.


The fake server runs in its own process so client and server each get a core.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path

from common import header, median, server_process, synth, to_papers, verdict

LEVELS = (1, 8, 32, 128)


def papers_for(n: int) -> list:
    return to_papers(synth.papers(n, seed=1, abstract_chars=1200))


def run_level(url: str, conc: int, papers: list, single: bool = False) -> tuple[float, float]:
    """(papers/s, p95 latency ms) for one run of ``papers`` at ``conc``."""
    import agent.backends.openai as oa
    from agent import Agent

    saved = oa.PER_CLIENT
    if single:
        oa.PER_CLIENT = 10**6
    try:
        agent = Agent(backend="openai", base_url=url, api_key="x", model="fake", concurrency=conc, cache=False)
        started = time.perf_counter()
        results = list(agent.analyze_many(papers))
        elapsed = time.perf_counter() - started
        agent.close()
    finally:
        oa.PER_CLIENT = saved
    bad = [r for r in results if r.status != "ok"]
    if bad:
        print(f"  !! {len(bad)} not ok, e.g. {bad[0].status}: {bad[0].error}")
    lat = sorted(r.usage.latency_ms for r in results)
    return len(papers) / elapsed, lat[int(0.95 * (len(lat) - 1))]


def warm_up(url: str) -> None:
    run_level(url, 4, papers_for(8))


def section_sharded(repeats: int, single: bool = False) -> dict:
    out: dict = {}
    plans = [(1.0, LEVELS, lambda c: max(4 * c, 16)), (0.2, LEVELS, lambda c: max(8 * c, 32))]
    if single:
        plans = [(1.0, (128,), lambda c: 4 * c), (0.2, (8, 32, 128), lambda c: 8 * c)]
    name = "single httpx client" if single else "sharded clients (ours)"
    for latency, levels, count in plans:
        with server_process("--latency", str(latency)) as url:
            warm_up(url)
            runs: dict[int, list[tuple[float, float]]] = {c: [] for c in levels}
            for _ in range(repeats):  # interleave levels so load from others spreads evenly
                for conc in levels:
                    runs[conc].append(run_level(url, conc, papers_for(count(conc)), single))
            print(f"\n## {name}, latency {latency * 1000:.0f} ms, {repeats} repeats (median)")
            print("| concurrency | papers | ideal/s | papers/s (median) | runs | % of ideal | p95 latency ms |")
            print("|---|---|---|---|---|---|---|")
            prev = 0.0
            rising = True
            for conc in levels:
                tput = median([r[0] for r in runs[conc]])
                p95 = median([r[1] for r in runs[conc]])
                ideal = conc / latency
                all_runs = ", ".join(f"{r[0]:.1f}" for r in runs[conc])
                print(f"| {conc} | {count(conc)} | {ideal:.0f} | {tput:.1f} | {all_runs} | {100 * tput / ideal:.0f}% | {p95:.0f} |")
                rising = rising and tput >= prev
                prev = tput
                out[(latency, conc)] = tput
            if not single and latency == 1.0:
                worst = min(out[(1.0, c)] / (c / 1.0) for c in levels)
                print(f"target: >= 90% of ideal at every level -> worst {100 * worst:.0f}% {verdict(worst >= 0.9)}")
            if not single and latency == 0.2:
                print(f"target: throughput never falls as concurrency rises -> {verdict(rising)}")
    return out


# ---------------------------------------------------------------------------- in-process CPU


def section_cpu(repeats: int, n: int = 500, profile: bool = False, mode: str = "tools") -> None:
    import httpx

    import fake_server
    from agent import Agent
    from agent.outputs import make_writer

    handler_s = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        t = time.perf_counter()
        body = fake_server.build_completion(json.loads(request.content))
        resp = httpx.Response(200, json=body)
        handler_s[0] += time.perf_counter() - t
        return resp

    original = httpx.AsyncClient

    class MockAsyncClient(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs.pop("limits", None)
            kwargs["transport"] = httpx.MockTransport(handler)
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    papers = papers_for(n)
    walls, cpus, nets = [], [], []
    httpx.AsyncClient = MockAsyncClient  # type: ignore[misc]
    try:
        for i in range(repeats + 1):  # the first run warms imports and is dropped
            with tempfile.TemporaryDirectory() as tmp:
                agent = Agent(backend="openai", base_url="http://mock/v1", api_key="x", model="fake",
                              concurrency=1, cache_dir=Path(tmp) / "cache", mode=mode)  # fmt: skip
                writer = make_writer("jsonl", Path(tmp) / "out.jsonl", agent.taxonomy)
                handler_s[0] = 0.0
                prof = cProfile.Profile() if (profile and i == repeats) else None
                w0, c0 = time.perf_counter(), time.process_time()
                if prof:
                    prof.enable()
                for result in agent.analyze_many(papers):
                    writer.write(result)
                if prof:
                    prof.disable()
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                writer.close()
                ok = sum(1 for line in open(Path(tmp) / "out.jsonl") if '"status":"ok"' in line)
                agent.close()
            if ok != n:
                print(f"  !! only {ok}/{n} ok")
            if i > 0:
                walls.append(1000 * wall / n)
                cpus.append(1000 * cpu / n)
                nets.append(1000 * (cpu - handler_s[0]) / n)
            if prof:
                _report_profile(prof)
    finally:
        httpx.AsyncClient = original  # type: ignore[misc]
    print(f"\n## in-process CPU per call, MockTransport, concurrency 1, {n} papers, mode {mode}, {repeats} repeats")
    print(f"wall ms/call: median {median(walls):.2f} (runs {', '.join(f'{x:.2f}' for x in walls)})")
    print(f"CPU  ms/call: median {median(cpus):.2f} (runs {', '.join(f'{x:.2f}' for x in cpus)})")
    print(f"CPU  ms/call without the mock server's own work: median {median(nets):.2f}")
    print(f"target: < 3 ms/call -> {verdict(median(nets) < 3.0)}")


def _report_profile(prof: cProfile.Profile) -> None:
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    by_pkg: dict[str, float] = {}
    for (path, _line, _fn), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        pkg = "other"
        for name in ("instructor", "openai", "httpx", "httpcore", "pydantic_core", "pydantic", "diskcache",
                     "tenacity", "anyio", "asyncio", "json", "/agent/", "fake_server", "sqlite3", "jinja2",
                     "jiter", "typing", "inspect", "copy", "logging", "re/", "email"):  # fmt: skip
            if name in path:
                pkg = name.strip("/")
                break
        if path == "~":
            pkg = "builtins (C)"
        by_pkg[pkg] = by_pkg.get(pkg, 0.0) + tt
    print("\nself time by package (profiled run):")
    for pkg, tt in sorted(by_pkg.items(), key=lambda kv: -kv[1])[:14]:
        print(f"  {pkg:16s} {100 * tt / total:5.1f}%")
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(30)
    print(s.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--sections", default="sharded,single,cpu")
    p.add_argument("--profile", action="store_true", help="cProfile the last cpu run")
    p.add_argument("--mode", default="tools", choices=["tools", "json"])
    a = p.parse_args()
    header("throughput")
    sections = a.sections.split(",")
    results = {}
    if "sharded" in sections:
        results["sharded"] = section_sharded(a.repeats)
    if "single" in sections:
        results["single"] = section_sharded(a.repeats, single=True)
    if "sharded" in sections and "single" in sections:
        print("\n## sharded vs single client (median papers/s)")
        for key, single in results["single"].items():
            ours = results["sharded"].get(key)
            if ours:
                print(f"latency {key[0] * 1000:.0f} ms, conc {key[1]}: ours {ours:.1f} vs single {single:.1f} ({ours / single:.2f}x)")
    if "cpu" in sections:
        section_cpu(a.repeats, profile=a.profile, mode=a.mode)


if __name__ == "__main__":
    main()
