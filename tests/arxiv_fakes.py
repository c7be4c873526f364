"""Test helpers for fetching from arXiv: a fake clock, recorded-format Atom, the fake arXiv server.

``bench/fake_arxiv.py`` is loaded by path (``bench/`` is not a package); its renderers write
Atom in the shape arXiv serves it, and ``tests/data/arxiv/`` holds literal examples of each
kind of answer (a daily feed with every announce type, a weekend feed, an API error, an
old-style id).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fake_server_fixtures import _load

fake_arxiv = _load("fake_arxiv")
FakeArxiv = fake_arxiv.FakeArxiv
DATA = Path(__file__).parent / "data" / "arxiv"
API = "https://export.arxiv.org/api/query"
FEED = "https://rss.arxiv.org/atom"
# "Now" for the tests: 2026-01-05 12:00 UTC, so 2025-10-14 is a settled past day.
EPOCH = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC).timestamp()


def recorded(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class FakeClock:
    """Wall-clock seconds that move only when something sleeps (or the test advances them)."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def papers(n: int, day: str = "2025-10-14", cats: list[str] | None = None, start: int = 0) -> list[dict]:
    """``n`` small papers submitted on ``day`` (distinct ids, titles and abstracts)."""
    return [
        fake_arxiv.paper(
            f"2510.{20000 + i:05d}",
            f"Paper number {i} on dense retrieval",
            f"We propose method {i} for dense retrieval and report gains on standard benchmarks.",
            categories=cats or ["cs.IR"],
            submitted=f"{day}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
        )
        for i in range(start, start + n)
    ]
