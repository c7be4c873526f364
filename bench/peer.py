"""Side by side with the peer: daily-arXiv-ai-enhanced's pattern vs ``paper-agent run``.

    python bench/peer.py [--papers 50] [--latency 1.0]

daily-arXiv-ai-enhanced (dw-dengwei/daily-arXiv-ai-enhanced, ``ai/enhance.py``) asks an
OpenAI-compatible model for a five-field summary of each paper through LangChain's
``with_structured_output`` (function calling), one call at a time, with no cache: a re-run
pays for every paper again. ``peer_run`` reproduces that pattern with the openai SDK alone
(a synchronous client, one forced tool call named ``Structure`` with the fields tldr,
motivation, method, result, conclusion, parsed into a pydantic model), so the comparison
measures the pattern, not LangChain's own overhead.

Both run as subprocesses (process start and imports included) against the same
``bench/fake_server.py`` at the same latency, on the same synthetic papers:
the peer twice (first run, re-run) and ``paper-agent run`` twice with a fresh cache (first run
at the default ``-j 8``, re-run from the cache). Prints wall times and the ratios.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import clean_env, header, paper_agent, server_process, server_stats, synth

SYSTEM = (
    "You are a professional paper analyst. Summarise the paper in English: its TL;DR, "
    "motivation, method, result and conclusion, one or two sentences each."
)


def peer_run(papers_file: Path, base_url: str) -> int:
    """The peer's loop: one structured call per paper, in order, nothing cached."""
    import openai
    from pydantic import BaseModel, Field

    class Structure(BaseModel):
        tldr: str = Field(description="generate a too long; didn't read summary")
        motivation: str = Field(description="describe the motivation in this paper")
        method: str = Field(description="method of this paper")
        result: str = Field(description="result of this paper")
        conclusion: str = Field(description="conclusion of this paper")

    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    tool = {"type": "function", "function": {"name": "Structure", "parameters": Structure.model_json_schema()}}
    done = 0
    with open(papers_file, encoding="utf-8") as f:
        for line in f:
            paper = json.loads(line)
            reply = client.chat.completions.create(
                model="fake",
                messages=[
                    {"role": "system", "content": SYSTEM},
                    {
                        "role": "user",
                        "content": f"<title>{paper['title']}</title>\n<abstract>{paper['summary']}</abstract>",
                    },
                ],
                tools=[tool],
                tool_choice={"type": "function", "function": {"name": "Structure"}},
                temperature=0,
            )
            Structure.model_validate_json(reply.choices[0].message.tool_calls[0].function.arguments)
            done += 1
    return done


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--papers", type=int, default=50)
    p.add_argument("--latency", type=float, default=1.0)
    p.add_argument("--run", type=Path, help=argparse.SUPPRESS)  # internal: be the peer
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.run is not None:
        print(peer_run(a.run, a.base_url))
        return
    header("peer side by side")
    with tempfile.TemporaryDirectory() as tmp_name, server_process("--latency", str(a.latency)) as url:
        tmp = Path(tmp_name)
        papers = synth.write_jsonl(tmp / "papers.jsonl", synth.papers(a.papers, seed=7, abstract_chars=1200))
        env = clean_env(tmp)
        env["OPENAI_API_KEY"] = "x"
        peer = [sys.executable, str(Path(__file__).resolve()), "--run", str(papers), "--base-url", url]
        ours = paper_agent() + [
            "run",
            str(papers),
            "--backend",
            "openai",
            "--base-url",
            url,
            "--model",
            "fake",
            "--cache-dir",
            str(tmp / "cache"),
            "-o",
            str(tmp / "out.jsonl"),
        ]
        before = server_stats(url)["requests"]
        peer_first, peer_again = timed(peer, env), timed(peer, env)
        peer_requests = server_stats(url)["requests"] - before
        ours_first = timed(ours, env)
        mid = server_stats(url)["requests"]
        ours_again = timed(ours, env)
        again_requests = server_stats(url)["requests"] - mid
    print(f"\n{a.papers} papers, fake server latency {a.latency:g} s")
    print("| run | peer pattern (1 call at a time, no cache) | paper-agent run (-j 8, cache) | ratio peer / ours |")
    print("|---|---|---|---|")
    print(f"| first run | {peer_first:.1f} s | {ours_first:.1f} s | {peer_first / ours_first:.1f}x |")
    print(f"| re-run | {peer_again:.1f} s | {ours_again:.1f} s | {peer_again / ours_again:.1f}x |")
    print(f"requests: peer {peer_requests} over both runs; paper-agent re-run {again_requests}")


if __name__ == "__main__":
    main()
