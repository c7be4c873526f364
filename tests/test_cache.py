"""The public cache API (agent.cache_stats / clear_cache / cache_location) that the CLI uses."""

from __future__ import annotations

import pytest

import agent
from agent import Agent, ConfigError, Paper


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


def _overwrite_with_random_bytes(db) -> None:
    db.write_bytes(bytes(range(256)) * 64)  # no SQLite header: "file is not a database"


def test_an_overwritten_database_names_cache_clear_which_resets_it(tmp_path):
    _fill(tmp_path)
    (tmp_path / "batches").mkdir()
    (tmp_path / "batches" / "keep.json").write_text("{}", encoding="utf-8")
    _overwrite_with_random_bytes(tmp_path / "cache.db")
    with pytest.raises(ConfigError, match=r"not a database\); run `paper-agent cache clear` to reset it"):
        agent.cache_stats(tmp_path)
    assert agent.clear_cache(tmp_path) == (0, 0)
    assert agent.cache_stats(tmp_path)["entries"] == 0
    _fill(tmp_path)  # usable again
    assert agent.cache_stats(tmp_path)["entries"] == 1
    assert (tmp_path / "batches" / "keep.json").exists()  # only diskcache's own files were reset


def test_cache_clear_resets_an_unreadable_page_cache_too(tmp_path):
    agent.cache_stats(tmp_path)  # creates both databases
    _overwrite_with_random_bytes(tmp_path / "arxiv" / "cache.db")
    assert agent.clear_cache(tmp_path) == (0, 0)
    assert agent.cache_stats(tmp_path)["arxiv_pages"]["pages"] == 0


def test_the_cli_points_to_cache_clear_and_cache_clear_recovers(tmp_path, cli):
    _fill(tmp_path)
    _overwrite_with_random_bytes(tmp_path / "cache.db")
    stats = cli("cache", "stats", "--cache-dir", tmp_path)
    assert stats.returncode == 2 and "Traceback" not in stats.stderr
    assert stats.stderr.strip().endswith("run `paper-agent cache clear` to reset it")
    cleared = cli("cache", "clear", "--cache-dir", tmp_path)
    assert cleared.returncode == 0, cleared.stderr
    assert "could not be read; reset it" in cleared.stderr
    assert cli("cache", "stats", "--cache-dir", tmp_path).returncode == 0
