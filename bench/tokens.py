"""Prompt and completion tokens per paper on the 40 seed papers (tests/fixtures).

    python bench/tokens.py

Runs the papers through the fake server (its ``usage`` is chars/4 of the request text) in tools
and JSON mode, and splits each request into the fixed part (system prompt, and the reply
schema sent as ``tools``/``response_format``) and the paper's part (the user message).
"""

from __future__ import annotations

import statistics

import fake_server
from common import ROOT, header


def main() -> None:
    header("tokens per paper")
    from agent import Agent, load_papers

    papers = load_papers([ROOT / "tests" / "fixtures"])
    print(f"{len(papers)} seed papers from tests/fixtures; estimated tokens = chars / 4\n")
    print("| mode | part | mean chars | est. tokens | share of prompt |")
    print("|---|---|---|---|---|")
    for mode in ("tools", "json"):
        parts: list[dict[str, str]] = []
        with fake_server.FakeServer(
            on_request=lambda r, parts=parts: parts.append(fake_server.request_text(r))
        ) as server:
            agent = Agent(backend="openai", base_url=server.base_url, api_key="x", model="fake", mode=mode, cache=False)
            results = list(agent.analyze_many(papers))
        assert all(r.status == "ok" for r in results) and len(parts) == len(papers)
        means = {k: statistics.mean(len(p[k]) for p in parts) for k in ("system", "schema", "user")}
        total = sum(means.values())
        label = {
            "system": "fixed: system prompt",
            "schema": "fixed: reply schema (tools / response_format)",
            "user": "per paper: user message (title, abstract, digest TL;DR)",
        }
        for k in ("system", "schema", "user"):
            print(f"| {mode} | {label[k]} | {means[k]:.0f} | {means[k] / 4:.0f} | {100 * means[k] / total:.0f}% |")
        prompt = statistics.mean(r.usage.prompt_tokens for r in results)
        completion = statistics.mean(r.usage.completion_tokens for r in results)
        user_sd = statistics.pstdev(len(p["user"]) for p in parts) / 4
        print(
            f"| {mode} | **prompt_tokens (server usage)** | | **{prompt:.0f}** | fixed {100 * (means['system'] + means['schema']) / total:.0f}% |"
        )
        print(f"| {mode} | **completion_tokens (server usage)** | | **{completion:.0f}** | |")
        print(
            f"| {mode} | per-paper part: sd / min / max est. tokens | | {user_sd:.0f} / "
            f"{min(len(p['user']) for p in parts) / 4:.0f} / {max(len(p['user']) for p in parts) / 4:.0f} | |"
        )


if __name__ == "__main__":
    main()
