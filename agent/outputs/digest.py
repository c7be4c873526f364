"""What the Markdown and HTML digests share: the low-confidence mark, the grouping by label,
the header line, and ``Coverage`` (which inputs and dates the digest covers, and what the
``--only``/``--min-confidence`` filters left out).

``Coverage`` is filled while the run streams (``track`` sees every paper, ``leave_out`` every
filtered result) and read once when the digest is rendered at the end, so a digest can say
what it covers without holding the papers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath

from agent.schema import Paper, PaperResult
from agent.taxonomy import Taxonomy

# One threshold for "low confidence", used by both digests: below it the backend itself rates
# the label as more likely wrong than right, so the reader should check it.
LOW_CONFIDENCE = 0.5
_DATE_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_LISTED = 5  # source files named one by one; more are summed up as "and N more"


def is_low(result: PaperResult) -> bool:
    """A triaged result whose label is below ``LOW_CONFIDENCE``."""
    return result.status == "ok" and result.confidence < LOW_CONFIDENCE


@dataclass
class Coverage:
    """The inputs a digest covers and the filters that shaped it.

    ``sources`` maps each input file (or arXiv URL) to the date in its name, if any;
    ``fetched`` holds one line per ``arxiv:`` source (what was fetched, for which dates).
    """

    sources: dict[str, str | None] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    left_out: int = 0

    def track(self, papers: Iterable[Paper]) -> Iterator[Paper]:
        """Pass ``papers`` through, noting each local file they come from (arXiv pages are
        described by ``fetched`` instead)."""
        for paper in papers:
            src = paper.source_file
            if src and src not in self.sources and not src.startswith(("http://", "https://")):
                match = _DATE_RE.search(PurePath(src).name)
                self.sources[src] = "-".join(match.groups()) if match else None
            yield paper

    def lines(self) -> list[str]:
        """Plain-text lines for a digest header: sources with dates, then what was left out."""
        out: list[str] = list(self.fetched)
        names = [PurePath(s).name + (f" ({d})" if d else "") for s, d in self.sources.items()]
        if names:
            more = len(names) - _LISTED
            listed = ", ".join(names[:_LISTED]) + (f" and {more} more files" if more > 0 else "")
            dates = sorted(d for d in self.sources.values() if d)
            span = f"; dates {dates[0]} to {dates[-1]}" if dates and dates[0] != dates[-1] else ""
            out.append(f"Files: {listed}{span}")
        if self.filters:
            out.append(f"Filtered by {' and '.join(self.filters)}: {self.left_out} papers left out")
        return out


def describe_fetch(sources: list[str], fetch: dict[str, object] | None) -> list[str]:
    """One line per ``arxiv:`` input saying which dates it covers: the latest announcement (as
    of today, UTC), ``--date`` or ``--since``/``--until``; a list of ids has no date."""
    fetch = fetch or {}
    today = time.strftime("%Y-%m-%d", time.gmtime())
    lines = []
    for source in sources:
        ids = bool(re.search(r"\d{4}\.\d{4,5}|/\d{7}", source))
        if ids:
            lines.append(f"arXiv: {source} (papers by id)")
        elif fetch.get("date"):
            lines.append(f"arXiv: {source}, submitted on {fetch['date']}")
        elif fetch.get("since") or fetch.get("until"):
            lines.append(f"arXiv: {source}, submitted {fetch.get('since') or 'up'} to {fetch.get('until') or today}")
        else:
            lines.append(f"arXiv: {source}, latest announcement as of {today} (UTC)")
    return lines


def group_results(
    results: list[PaperResult], taxonomy: Taxonomy
) -> tuple[dict[str, list[PaperResult]], list[PaperResult]]:
    """Triaged results by primary label (taxonomy order, most confident first) and the rest."""
    groups: dict[str, list[PaperResult]] = {name: [] for name in taxonomy.names}
    untriaged: list[PaperResult] = []
    for r in results:
        if r.status == "ok" and r.primary in groups:
            groups[r.primary].append(r)
        else:
            untriaged.append(r)
    for items in groups.values():
        items.sort(key=lambda r: -r.confidence)
    return groups, untriaged


def header_line(results: list[PaperResult]) -> str:
    """``N papers, triaged DATE by BACKEND (MODEL).``"""
    backends = sorted({f"{r.backend} ({r.model})" for r in results if r.backend})
    return f"{len(results)} papers, triaged {time.strftime('%Y-%m-%d')} by {', '.join(backends) or 'n/a'}."


def offline_note(results: list[PaperResult], notice: str | None) -> str | None:
    """The line that says labels come from the offline baseline, when they do."""
    if notice or any(r.backend == "offline" for r in results):
        return "Labels and TL;DRs come from the offline baseline (keyword cues and a linear model), not an LLM."
    return None
