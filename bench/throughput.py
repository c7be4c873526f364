"""Papers/s against the fake server: through the CLI (the targets) and the Python API.

    python bench/throughput.py --sections cli       # the targets, 3 repeats, medians
    python bench/throughput.py                      # everything
    python bench/throughput.py --sections cpu --profile

Sections:
  cli      ``paper-agent run papers.jsonl --backend openai --no-cache -j N`` as a subprocess,
           about 10 waves of N papers: at 1 s latency N = 8, 32, 128 (target >= 90% of ideal,
           ideal = N / latency); at 200 ms N = 128, 3,000 papers (target >= 300 papers/s).
           Throughput is papers / the run's own ``elapsed`` (the CLI's summary: ingest to
           last row, process start-up and imports excluded; the process wall time is printed
           too), and the endpoint's view: n/N waves x latency over the time from the server's
           first request to its last reply. CPU per call = (CPU of the run - CPU of a 1-paper run) / (papers - 1), from
           getrusage of the child: our whole process over sockets (target <= 3 ms). The fake
           server's own CPU per request is printed alongside (it shares the 2 cores).
  sharded  the Python API (``Agent.analyze_many``) at 1 s and 200 ms, concurrency 1-128, on the
           default transport (aiohttp).
  single   the httpx transport: one AsyncOpenAI client (PER_CLIENT huge) vs sharded clients.
  cpu      CPU per call in-process: httpx.MockTransport (no sockets), concurrency 1,
           500 papers end to end (prompt, instructor, validation, cache write, JSONL writer).


The fake server runs in its own process so client and server each get a core.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import resource
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from common import clean_env, header, median, paper_agent, server_process, server_stats, synth, to_papers, verdict

LEVELS = (1, 8, 32, 128)


def papers_for(n: int) -> list:
    return to_papers(synth.papers(n, seed=1, abstract_chars=1200))


def run_level(url: str, conc: int, papers: list, single: bool = False, http: str | None = None) -> tuple[float, float]:
    """(papers/s, p95 latency ms) for one run of ``papers`` at ``conc``."""
    import agent.backends.openai as oa
    from agent import Agent
    from agent.settings import Settings

    saved = oa.PER_CLIENT
    if single:
        oa.PER_CLIENT = 10**6
    try:
        settings = Settings(http_client=http) if http else None  # type: ignore[arg-type]
        agent = Agent(
            backend="openai", base_url=url, api_key="x", model="fake", concurrency=conc, cache=False, settings=settings
        )
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


def section_sharded(repeats: int, single: bool = False, http: str | None = None) -> dict:
    out: dict = {}
    plans = [(1.0, LEVELS, lambda c: max(4 * c, 16)), (0.2, LEVELS, lambda c: max(8 * c, 32))]
    if single or http:
        plans = [(1.0, (128,), lambda c: 4 * c), (0.2, (8, 32, 128), lambda c: 8 * c)]
    name = "single httpx client" if single else f"Python API, {http or 'default'} transport"
    for latency, levels, count in plans:
        with server_process("--latency", str(latency)) as url:
            warm_up(url)
            runs: dict[int, list[tuple[float, float]]] = {c: [] for c in levels}
            for _ in range(repeats):  # interleave levels so load from others spreads evenly
                for conc in levels:
                    runs[conc].append(run_level(url, conc, papers_for(count(conc)), single, http))
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
                print(
                    f"| {conc} | {count(conc)} | {ideal:.0f} | {tput:.1f} | {all_runs} | {100 * tput / ideal:.0f}% | {p95:.0f} |"
                )
                rising = rising and tput >= prev
                prev = tput
                out[(latency, conc)] = tput
            if not single and not http and latency == 1.0:
                worst = min(out[(1.0, c)] / (c / 1.0) for c in levels)
                print(f"target: >= 90% of ideal at every level -> worst {100 * worst:.0f}% {verdict(worst >= 0.9)}")
            if not single and not http and latency == 0.2:
                print(f"target: throughput never falls as concurrency rises -> {verdict(rising)}")
    return out


# ---------------------------------------------------------------------------- through the CLI

ELAPSED_RE = re.compile(r"elapsed\D*?([\d.]+) s")


def cli_run(url: str, conc: int, papers_file: Path, tmp: Path) -> dict[str, float]:
    """One ``paper-agent run``: process wall, the run's own elapsed, CPU (user+sys), rows ok."""
    out = tmp / "out.jsonl"
    cmd = paper_agent() + [
        "run",
        str(papers_file),
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
    ]
    env = clean_env(tmp)
    env["OPENAI_API_KEY"] = "x"
    urllib.request.urlopen(urllib.request.Request(url + "/stats/reset", method="POST"), timeout=10).close()
    server0 = server_stats(url)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    server1 = server_stats(url)
    if proc.returncode != 0:
        raise RuntimeError(f"paper-agent failed: {proc.stderr[-800:]}")
    match = ELAPSED_RE.search(proc.stderr)
    ok = sum(1 for line in open(out, encoding="utf-8") if '"status":"ok"' in line)
    return {
        "wall": wall,
        "elapsed": float(match.group(1)) if match else wall,
        "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "ok": ok,
        "server_cpu": server1["cpu_s"] - server0["cpu_s"],
        "window": server1["last_success_at"] - server1["first_request_at"],
        "requests": server1["requests"] - server0["requests"],
    }


def section_cli(repeats: int) -> None:
    plans = [(1.0, 8, 80), (1.0, 32, 320), (1.0, 128, 1280), (0.2, 128, 3000)]
    for latency in (1.0, 0.2):
        with server_process("--latency", str(latency)) as url, tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            files = {
                n: synth.write_jsonl(tmp / f"p{n}.jsonl", synth.papers(n, seed=1, abstract_chars=1200))
                for n in {1} | {n for lat, _, n in plans if lat == latency}
            }
            levels = [(conc, n) for lat, conc, n in plans if lat == latency]
            runs: dict[int, list[dict[str, float]]] = {conc: [] for conc, _ in levels}
            base: list[float] = []
            for _ in range(repeats):  # interleaved, so load from others spreads evenly
                base.append(cli_run(url, 1, files[1], tmp)["cpu"])
                for conc, n in levels:
                    runs[conc].append(cli_run(url, conc, files[n], tmp))
            startup_cpu = median(base)
            print(
                f"\n## CLI, latency {latency * 1000:.0f} ms, {repeats} repeats (median); "
                f"CPU of a 1-paper run {startup_cpu:.2f} s"
            )
            print(
                "| -j | papers | ideal/s | papers/s (elapsed) | runs | % of ideal | % of ideal, endpoint's view | "
                "process wall s | our CPU ms/call | server CPU ms/request | rows ok |"
            )
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            for conc, n in levels:
                rs = runs[conc]
                tput = [n / r["elapsed"] for r in rs]
                ideal = conc / latency
                cpu_call = median([1000 * (r["cpu"] - startup_cpu) / (n - 1) for r in rs])
                srv = median([1000 * r["server_cpu"] / max(1, r["requests"]) for r in rs])
                # first request in to last reply out, against n/conc back-to-back waves
                steady = median([100 * (n / conc) * latency / r["window"] for r in rs])
                print(
                    f"| {conc} | {n} | {ideal:.0f} | {median(tput):.1f} | {', '.join(f'{t:.1f}' for t in tput)} | "
                    f"{100 * median(tput) / ideal:.0f}% | {steady:.0f}% | {median([r['wall'] for r in rs]):.1f} | {cpu_call:.2f} | "
                    f"{srv:.2f} | {min(int(r['ok']) for r in rs)}/{n} |"
                )
                if latency == 1.0:
                    print(f"target: >= 90% of ideal at -j {conc} -> {verdict(median(tput) / ideal >= 0.9)}")
                else:
                    print(f"target: >= 300 papers/s at -j {conc} -> {verdict(median(tput) >= 300)}")
                print(f"target: our CPU per call <= 3 ms -> {verdict(cpu_call <= 3.0)}")


# ---------------------------------------------------------------------------- in-process CPU


def section_cpu(repeats: int, n: int = 500, profile: bool = False, mode: str = "tools") -> None:
    import fake_server
    import httpx

    from agent import Agent
    from agent.outputs import make_writer
    from agent.settings import Settings

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
                settings = Settings(http_client="httpx")  # MockTransport replaces httpx's transport
                agent = Agent(
                    backend="openai",
                    base_url="http://mock/v1",
                    api_key="x",
                    model="fake",
                    concurrency=1,
                    cache_dir=Path(tmp) / "cache",
                    mode=mode,
                    settings=settings,
                )
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
        for name in (
            "instructor",
            "openai",
            "httpx",
            "httpcore",
            "pydantic_core",
            "pydantic",
            "diskcache",
            "tenacity",
            "anyio",
            "asyncio",
            "json",
            "/agent/",
            "fake_server",
            "sqlite3",
            "jinja2",
            "jiter",
            "typing",
            "inspect",
            "copy",
            "logging",
            "re/",
            "email",
        ):
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
    p.add_argument("--sections", default="cli,sharded,single,cpu")
    p.add_argument("--profile", action="store_true", help="cProfile the last cpu run")
    p.add_argument("--mode", default="tools", choices=["tools", "json"])
    a = p.parse_args()
    header("throughput")
    sections = a.sections.split(",")
    results = {}
    if "cli" in sections:
        section_cli(a.repeats)
    if "sharded" in sections:
        results["sharded"] = section_sharded(a.repeats)
    if "single" in sections:
        results["single"] = section_sharded(a.repeats, single=True, http="httpx")
        results["httpx"] = section_sharded(a.repeats, http="httpx")
    if "sharded" in sections and "single" in sections:
        print("\n## aiohttp (default) vs sharded httpx clients vs one httpx client (median papers/s)")
        for key, single in results["single"].items():
            ours, sharded = results["sharded"].get(key), results["httpx"].get(key)
            if ours and sharded:
                print(
                    f"latency {key[0] * 1000:.0f} ms, conc {key[1]}: aiohttp {ours:.1f}, sharded httpx {sharded:.1f}, "
                    f"one httpx client {single:.1f}"
                )
    if "cpu" in sections:
        section_cpu(a.repeats, profile=a.profile, mode=a.mode)


if __name__ == "__main__":
    main()
