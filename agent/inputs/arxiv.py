"""Fetch papers from arXiv itself: today's announcement, a range of dates, or a list of ids.

Two sources, both Atom, both read by ``agent.inputs.atom.read_atom`` (one Atom parser):

- no dates, no ids: the daily announcement feed (``{feed_url}/cs.IR+cs.CL``). Its entries say
  how each paper was announced (``new``, ``cross``, ``replace``, ``replace-cross``):
  replacements are old papers and are skipped; cross-lists are kept unless
  ``cross_lists=False``. A feed with no entries is a weekend or holiday, not an error.
- dates or ids: the arXiv API (``{api_url}?search_query=...`` or ``?id_list=...``), paged with
  ``start``/``max_results`` until ``opensearch:totalResults`` papers have arrived.

How each request is sent (spacing, User-Agent, retries, the page cache) is
``agent.inputs.arxiv_client``. Every page is cached on disk once it has parsed, so fetching the
same day or ids again sends nothing and an interrupted paging run resumes where it stopped. A
page that can still change (today's feed, a date range that has not settled) is fetched again
after ``arxiv_max_age`` seconds; the rest are kept until ``refresh=True``. The assembled result
is never cached, so a fetch that stopped part-way cannot later pass for a complete one: it
raises ``FetchError`` saying how many of how many papers arrived.

This module imports httpx: ``agent.inputs.read`` imports it only when an ``arxiv:`` input is given.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.cache import PageCache
from agent.errors import ConfigError, FetchError, InputError
from agent.inputs.arxiv_client import STAMP_FILE, Client, parse_page, throttle_for
from agent.inputs.files import ARXIV_SOURCE_PREFIX, is_arxiv_source
from agent.inputs.text import arxiv_id
from agent.schema import Paper
from agent.settings import Settings

log = logging.getLogger(__name__)

PAGE_SIZE = 300  # results per API request: "a few hundred", as arXiv's API manual suggests
EMPTY_PAGE_TRIES = 3  # the API sometimes answers a page with no entries; ask again before giving up
# A date range is "settled" (cached for good) once its last day is this many days old: a paper
# submitted on day D appears in the API only when it is announced, up to ~3 days later (a
# Friday submission is announced on Monday evening), more around holidays.
SETTLE_DAYS = 7
CATEGORY_RE = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")


# ---------------------------------------------------------------------------- what to fetch


def _date(value: str | dt.date | None, option: str) -> dt.date | None:
    """A date option as a date; a malformed one is a ``ConfigError`` naming the option."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{option} {value!r}: not a date (expected YYYY-MM-DD)") from None


def _normalise_category(cat: str) -> str:
    """``cs.ir`` -> ``cs.IR``: arXiv's names are case-sensitive and a wrong case finds nothing.

    Subject classes are upper case except in cond-mat and physics (``cond-mat.mes-hall``).
    """
    archive, dot, subject = cat.partition(".")
    archive = archive.lower()
    if dot and archive not in ("cond-mat", "physics"):
        subject = subject.upper()
    return f"{archive}{dot}{subject}"


def _categories(categories: str | Iterable[str] | None) -> list[str]:
    """Category names from a name, a comma list or a list, normalised and checked (default cs.IR),
    so a typo is an error rather than a query that finds nothing."""
    if categories is None:
        return ["cs.IR"]
    if isinstance(categories, str):
        categories = [categories]
    out: list[str] = []
    for raw in categories:
        for cat in str(raw).split(","):
            cat = _normalise_category(cat.strip())
            if not cat:
                continue
            if not CATEGORY_RE.match(cat):
                raise ConfigError(f"{cat!r} is not an arXiv category (e.g. cs.IR, cs.CL, stat.ML)")
            if cat not in out:
                out.append(cat)
    return out or ["cs.IR"]


def _ids(ids: Iterable[str]) -> list[str]:
    """arXiv ids (versions stripped, each once) from ids or comma lists; anything else is a ``ConfigError``."""
    out: list[str] = []
    for raw in ids:
        for part in str(raw).split(","):
            part = part.strip()
            if not part:
                continue
            pid = arxiv_id(part)
            if pid is None:
                raise ConfigError(f"{part!r} is not an arXiv id (e.g. 2510.12815, 2510.12815v2, cs/0112017)")
            if pid not in out:
                out.append(pid)
    return out


@dataclass
class FetchResult:
    """The papers of one fetch and what it took to get them."""

    papers: list[Paper]
    note: str = ""  # one line for the user: what was fetched, from where
    requests: int = 0  # HTTP requests sent to arXiv (0 when everything came from the cache)
    cached_pages: int = 0  # pages served from the page cache

    def summary(self) -> str:
        """The note plus what it cost: ``cs.IR: 42 papers ... [1 request to arXiv, 0 cached pages]``."""
        sent = f"{self.requests} request{'' if self.requests == 1 else 's'} to arXiv"
        return f"{self.note} [{sent}, {self.cached_pages} page{'' if self.cached_pages == 1 else 's'} from the cache]"


def fetch(
    categories: str | Iterable[str] | None = None,
    *,
    date: str | dt.date | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    ids: Iterable[str] | None = None,
    cross_lists: bool = True,
    refresh: bool = False,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    settings: Settings | None = None,
    page_size: int = PAGE_SIZE,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> FetchResult:
    """Fetch papers from arXiv; see ``fetch_papers``. Also says what it did (``FetchResult``)."""
    settings = settings or Settings()
    for name, url in (
        ("PAPER_AGENT_ARXIV_API_URL", settings.arxiv_api_url),
        ("PAPER_AGENT_ARXIV_FEED_URL", settings.arxiv_feed_url),
    ):
        if not re.match(r"^https?://[^/\s]+", url):
            raise ConfigError(f"{name}={url!r}: expected an http(s) URL")
    cats = _categories(categories)
    id_list = _ids(ids) if ids is not None else []
    day, start, end = _date(date, "--date"), _date(since, "--since"), _date(until, "--until")
    if ids is not None and not id_list:
        raise ConfigError("--id: no ids given")
    if id_list and (day or start or end):
        raise ConfigError("--id fetches exact papers: leave out --date/--since/--until")
    if day and (start or end):
        raise ConfigError("use --date D or --since D1 [--until D2], not both")
    if end and not start:
        raise ConfigError("--until needs --since")
    if not 1 <= page_size <= 2000:
        raise ConfigError(f"page size {page_size}: arXiv serves 1 to 2000 results per request")
    throttle = throttle_for(clock, sleep)
    today = dt.datetime.fromtimestamp(throttle.clock(), dt.UTC).date()
    if day:
        start = end = day
    elif start and not end:
        end = today
    if start and end and start > end:
        raise ConfigError(f"--since {start} is after --until {end}")
    folder = Path(cache_dir or settings.cache_dir)
    page_cache = PageCache(folder) if cache else None
    client = Client(settings, page_cache, refresh, throttle, stamp=folder / STAMP_FILE)
    try:
        if id_list:
            result = _fetch_ids(client, id_list, page_size)
        elif start and end:
            settled = (today - end).days >= SETTLE_DAYS
            result = _fetch_range(client, cats, start, end, cross_lists, page_size, settled)
        else:
            result = _fetch_feed(client, cats, cross_lists)
    finally:
        client.close()
    result.requests, result.cached_pages = client.requests, client.cached_pages
    return result


def fetch_papers(
    categories: str | Iterable[str] | None = None,
    *,
    date: str | dt.date | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    ids: Iterable[str] | None = None,
    cross_lists: bool = True,
    refresh: bool = False,
    **options: Any,
) -> list[Paper]:
    """Papers from arXiv as ``Paper`` records, de-duplicated by id, in arXiv's order.

    - ``fetch_papers("cs.IR")``: the latest daily announcement (new submissions and, unless
      ``cross_lists=False``, cross-lists; replacements skipped). ``[]`` on a weekend or holiday.
    - ``date="2025-10-14"`` or ``since=..., until=...`` (default: today, UTC): papers
      submitted in those days, from the API, paged.
    - ``ids=["2510.12815v2", "cs/0112017"]``: exactly those papers (versions stripped).

    ``categories`` is a name, a comma-separated string or a list (default ``cs.IR``). Options:
    ``refresh``, ``cache``, ``cache_dir``, ``settings``, ``page_size``, and ``clock``/``sleep``
    (wall-clock seconds and a sleep function, for tests). Raises ``ConfigError`` for bad
    arguments, ``InputError`` for a malformed or empty answer, ``FetchError`` when arXiv
    cannot be reached or a result set arrives only in part.
    """
    return fetch(
        categories, date=date, since=since, until=until, ids=ids, cross_lists=cross_lists, refresh=refresh, **options
    ).papers


def _fetch_feed(client: Client, cats: list[str], cross_lists: bool) -> FetchResult:
    """Today's announcement: new papers and (unless left out) cross-lists; replacements are old papers."""
    url = f"{client.settings.arxiv_feed_url.rstrip('/')}/{'+'.join(cats)}"
    try:
        text, cached = client.get(url, {}, settled=False)
    except FetchError as exc:
        raise FetchError(f"{url}: {exc}") from None
    feed = parse_page(text, url)
    label = "+".join(cats)
    if feed.query_error is not None:  # never cached: checked before the page is stored
        named = f"{cats[0]} is not" if len(cats) == 1 else f"one of {', '.join(cats)} is not"
        raise ConfigError(
            f"arxiv:{','.join(cats)}: {named} an arXiv category (arXiv answered {feed.query_error!r}); "
            "e.g. cs.IR, cs.CL, stat.ML"
        )
    if not cached:
        client.store(url, {}, text)
    if not feed.entries:
        return FetchResult([], f"{label}: no announcement today (arXiv announces nothing on weekends and holidays)")
    kinds: dict[str, int] = {}
    papers: list[Paper] = []
    seen: set[str] = set()
    for paper in feed.papers:
        kind = paper.announce_type or "new"
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind.startswith("replace") or (kind == "cross" and not cross_lists) or paper.id in seen:
            continue
        seen.add(paper.id)
        papers.append(paper.model_copy(update={"source_file": url}))
    parts = [f"{kinds.get('new', 0)} new", f"{kinds.get('cross', 0)} cross-lists" + ("" if cross_lists else " skipped")]
    replaced = kinds.get("replace", 0) + kinds.get("replace-cross", 0)
    if replaced:
        parts.append(f"{replaced} replacements skipped")
    return FetchResult(papers, f"{label}: {len(papers)} papers from today's announcement ({', '.join(parts)})")


def _fetch_pages(client: Client, params: dict[str, str], page_size: int, settled: bool, what: str) -> list[Paper]:
    """Every page of one API query, in order; raises ``FetchError`` rather than return part of it."""
    url = client.settings.arxiv_api_url
    papers: list[Paper] = []
    seen: set[str] = set()
    start, total = 0, None
    while total is None or start < total:
        page_params = {**params, "start": str(start), "max_results": str(page_size)}
        for attempt in range(1, EMPTY_PAGE_TRIES + 1):
            try:
                text, cached = client.get(url, page_params, settled=settled, fresh=attempt > 1)
            except FetchError as exc:
                if total is None:
                    raise FetchError(f"{what}: {exc}") from None
                raise FetchError(
                    f"{what}: incomplete, got {len(papers)} of {total} papers ({exc} for the page at {start}); "
                    "run again to resume, the pages that arrived are cached",
                    fetched=len(papers),
                    total=total,
                ) from None
            try:
                feed = parse_page(text, url)
            except InputError as exc:
                if papers:
                    raise InputError(exc.path, f"{exc.problem} (after {len(papers)} of {total} papers)") from None
                raise
            total = feed.total_results if feed.total_results is not None else (start + feed.entries)
            # arXiv sometimes answers a page inside the result set with no entries: ask again,
            # never cache it, and never take it for the end of the results.
            if feed.entries or start >= total:
                break
            log.warning(
                "%s: page at %d came back empty (%d of %d papers so far); asking again", what, start, len(papers), total
            )
        else:
            raise FetchError(
                f"{what}: incomplete, got {len(papers)} of {total} papers (arXiv kept answering the page at "
                f"{start} with no entries); run again to resume, the pages that arrived are cached",
                fetched=len(papers),
                total=total,
            )
        if not cached:
            client.store(url, page_params, text)
        for paper in feed.papers:
            if paper.id not in seen:
                seen.add(paper.id)
                papers.append(paper.model_copy(update={"source_file": url}))
        if total > page_size:
            log.info("%s: %d of %d papers", what, min(start + page_size, total), total)
        start += page_size
    return papers


def _fetch_range(
    client: Client, cats: list[str], start: dt.date, end: dt.date, cross_lists: bool, page_size: int, settled: bool
) -> FetchResult:
    """Papers submitted from ``start`` to ``end`` (UTC), from the API, paged."""
    cat_query = " OR ".join(f"cat:{c}" for c in cats)
    if len(cats) > 1:
        cat_query = f"({cat_query})"
    query = f"{cat_query} AND submittedDate:[{start:%Y%m%d}0000 TO {end:%Y%m%d}2359]"
    params = {"search_query": query, "sortBy": "submittedDate", "sortOrder": "ascending"}
    span = str(start) if start == end else f"{start} to {end}"
    what = f"{'+'.join(cats)} {span}"
    papers = _fetch_pages(client, params, page_size, settled, what)
    found = len(papers)
    if not cross_lists:
        papers = [p for p in papers if p.categories[:1] and p.categories[0] in cats]
    if not found:
        return FetchResult([], f"{what}: no papers submitted (UTC)")
    skipped = f", {found - len(papers)} cross-lists skipped" if not cross_lists else ""
    return FetchResult(papers, f"{what}: {len(papers)} papers submitted (UTC){skipped}")


def _fetch_ids(client: Client, ids: list[str], page_size: int) -> FetchResult:
    """Exactly the papers asked for, in the order asked; ids arXiv does not know are reported, not fatal."""
    by_id: dict[str, Paper] = {}
    for i in range(0, len(ids), page_size):
        chunk = ids[i : i + page_size]
        for paper in _fetch_pages(client, {"id_list": ",".join(chunk)}, page_size, True, f"ids {chunk[0]}..."):
            by_id.setdefault(paper.id, paper)
    missing = [pid for pid in ids if pid not in by_id]
    if missing:
        log.info("not found on arXiv: %s", ", ".join(missing))
    papers = [by_id[pid] for pid in ids if pid in by_id]
    note = f"{len(papers)} of {len(ids)} papers by id" + (f" (not found: {', '.join(missing)})" if missing else "")
    return FetchResult(papers, note)


# ---------------------------------------------------------------------------- arxiv: inputs


def parse_source(text: str | Path) -> tuple[list[str], list[str]] | None:
    """``arxiv:cs.IR,cs.CL`` -> (categories, []); ``arxiv:2510.12815,cs/0112017`` -> ([], ids); else None.

    A path that exists is a file, whatever its name.
    """
    raw = str(text)
    if not is_arxiv_source(raw):
        return None
    parts = [p.strip() for p in raw[len(ARXIV_SOURCE_PREFIX) :].split(",") if p.strip()]
    if not parts:
        raise ConfigError(f"{raw!r}: name categories or ids after 'arxiv:' (e.g. arxiv:cs.IR,cs.CL)")
    # One id among the parts makes it a list of ids, so the error names what is wrong
    # (``arxiv:2505.20730,garbage``: 'garbage' is not an id), never the valid id.
    if any(arxiv_id(p) for p in parts) and not all(CATEGORY_RE.match(p) for p in parts):
        return [], _ids(parts)
    return _categories(parts), []
