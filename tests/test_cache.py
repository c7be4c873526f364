"""The public cache API (agent.cache_stats / clear_cache / cache_location) that the CLI uses."""

from __future__ import annotations

import agent
from agent import Agent, Paper


def _fill(cache_dir) -> None:
    with Agent(backend="offline", cache_dir=cache_dir) as a:
        a.analyze(Paper(id="2501.00001", title="Dense retrieval for RAG", abstract="We propose a retriever for RAG."))


def test_stats_count_what_a_run_cached_and_clear_removes_it(tmp_path):
    _fill(tmp_path)
    stats = agent.cache_stats(tmp_path)
    assert stats["entries"] == 1
    assert list(stats["by_backend_model"]) == ["offline/linear-v6"]
    assert stats["arxiv_pages"]["pages"] == 0
    assert agent.clear_cache(tmp_path) == (1, 0)
    assert agent.cache_stats(tmp_path)["entries"] == 0


def test_cache_location_defaults_to_the_configured_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PAPER_AGENT_CACHE_DIR", str(tmp_path / "c"))
    assert agent.cache_location() == tmp_path / "c"
    assert agent.cache_location(tmp_path / "x") == tmp_path / "x"
