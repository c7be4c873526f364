"""A fake arXiv on 127.0.0.1: the API (``/api/query``) and the daily feeds (``/atom/cs.IR``).

Stdlib only (``http.server`` in a background thread). It answers in the formats arXiv serves,
so paper-agent's fetch code is exercised end to end without touching the network:

- ``GET /api/query?search_query=...&start=&max_results=`` understands the queries paper-agent
  sends (``cat:X`` terms joined by OR, ``AND submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]``),
  sorts by submission date and pages with ``opensearch:totalResults``/``startIndex``;
  ``?id_list=a,b`` returns those papers (a malformed id gets arXiv's error entry).
- ``GET /atom/cs.IR+cs.CL`` is today's announcement: entries with ``arxiv:announce_type``,
  authors in ``dc:creator``, and the "arXiv:ID Announce Type: new Abstract:" summary prefix.
  With no feed entries it serves the empty feed arXiv serves on weekends and holidays.

Faults are queued: ``server.fail_next(503, retry_after=7)``, ``server.fail_next(200,
body="<feed")`` (malformed), ``server.empty_pages = 2`` (the next two pages after the first come
back with no entries, as the real API sometimes does), ``server.unknown_categories`` (the
daily feed answers them with arXiv's "Feed error for query" feed), ``server.drip = 2.0`` (every
answer is sent one byte every 2 s). Every request is recorded in
``server.requests`` (path, query parameters, headers), and ``on_request`` is called with it.

By hand, with synthetic papers submitted on one day::

    python bench/fake_arxiv.py --port 8766 --papers 500 --date 2025-10-14
    PAPER_AGENT_ARXIV_API_URL=http://127.0.0.1:8766/api/query \\
        paper-agent fetch --date 2025-10-14 -o papers.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
SEED_DATASET = ROOT / "evals" / "seed_dataset.jsonl"
ID_RE = re.compile(r"^(?:\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")


def paper(
    pid: str,
    title: str,
    abstract: str,
    *,
    authors: list[str] | None = None,
    categories: list[str] | None = None,
    submitted: str = "2025-10-14T12:00:00Z",
    version: int = 1,
    announce_type: str = "new",
) -> dict[str, Any]:
    """One paper as the fake arXiv holds it (``categories[0]`` is the primary category)."""
    return {
        "id": pid,
        "title": title,
        "abstract": abstract,
        "authors": authors or ["Ada Lovelace", "Alan Turing"],
        "categories": categories or ["cs.IR"],
        "submitted": submitted,
        "version": version,
        "announce_type": announce_type,
    }


def seed_papers(day: str = "2025-10-14") -> list[dict[str, Any]]:
    """The 40 hand-labelled seed papers (real titles and abstracts), all submitted on ``day``."""
    out = []
    for n, line in enumerate(SEED_DATASET.read_text(encoding="utf-8").splitlines()):
        if line.strip():
            rec = json.loads(line)
            out.append(
                paper(
                    rec["id"],
                    rec["title"],
                    rec["abstract"],
                    authors=rec.get("authors") or None,
                    categories=["cs.IR", "cs.LG"] if n % 3 else ["cs.CL", "cs.IR"],
                    submitted=f"{day}T{n % 24:02d}:{n % 60:02d}:00Z",
                )
            )
    return out


def synthetic_papers(n: int, day: str = "2025-10-14", start: int = 0) -> list[dict[str, Any]]:
    """``n`` papers with arXiv-like abstracts (stitched from the seed abstracts), submitted on ``day``."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import synth

    return [
        paper(
            p["id"],
            p["title"],
            p["abstract"],
            authors=p["authors"],
            categories=p["categories"],
            submitted=f"{day}T{(i // 60) % 24:02d}:{i % 60:02d}:00Z",
        )
        for i, p in enumerate(synth.papers(n, start=start))
    ]


# ---------------------------------------------------------------------------- Atom, as arXiv writes it


def _wrap(text: str, indent: str = "  ") -> str:
    return "\n".join(textwrap.wrap(text, 78, initial_indent=indent, subsequent_indent=indent)).strip()


def api_entry(p: dict[str, Any]) -> str:
    vid = f"{p['id']}v{p['version']}"
    authors = "".join(f"\n    <author>\n      <name>{escape(a)}</name>\n    </author>" for a in p["authors"])
    cats = "".join(
        f'\n    <category term={quoteattr(c)} scheme="http://arxiv.org/schemas/atom"/>' for c in p["categories"]
    )
    return f"""  <entry>
    <id>http://arxiv.org/abs/{vid}</id>
    <updated>{p["submitted"]}</updated>
    <published>{p["submitted"]}</published>
    <title>{escape(_wrap(p["title"]))}</title>
    <summary>  {escape(_wrap(p["abstract"]))}
</summary>{authors}
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">12 pages, 4 figures</arxiv:comment>
    <link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{vid}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term={quoteattr(p["categories"][0])} scheme="http://arxiv.org/schemas/atom"/>{cats}
  </entry>
"""


def api_feed(entries: list[dict[str, Any]], total: int, start: int, query: str, per_page: int) -> str:
    os_ns = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href={quoteattr("http://arxiv.org/api/query?" + query)} rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: {escape(query)}</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2025-10-15T00:00:00-04:00</updated>
  <opensearch:totalResults {os_ns}>{total}</opensearch:totalResults>
  <opensearch:startIndex {os_ns}>{start}</opensearch:startIndex>
  <opensearch:itemsPerPage {os_ns}>{per_page}</opensearch:itemsPerPage>
{"".join(api_entry(p) for p in entries)}</feed>
"""


def api_error(message: str) -> str:
    os_ns = 'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: error</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2025-10-15T00:00:00-04:00</updated>
  <opensearch:totalResults {os_ns}>1</opensearch:totalResults>
  <opensearch:startIndex {os_ns}>0</opensearch:startIndex>
  <opensearch:itemsPerPage {os_ns}>1</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/api/errors#{escape(message.replace(" ", "_"))}</id>
    <title>Error</title>
    <summary>{escape(message)}</summary>
    <updated>2025-10-15T00:00:00-04:00</updated>
    <link href="http://arxiv.org/api/errors#{escape(message.replace(" ", "_"))}" rel="alternate" type="text/html"/>
    <author>
      <name>arXiv api core</name>
    </author>
  </entry>
</feed>
"""


def daily_entry(p: dict[str, Any]) -> str:
    vid = f"{p['id']}v{p['version']}"
    cats = "".join(f"\n      <category term={quoteattr(c)}/>" for c in p["categories"])
    summary = f"arXiv:{vid} Announce Type: {p['announce_type']} \nAbstract: {p['abstract']}"
    return f"""    <entry>
      <id>oai:arXiv.org:{vid}</id>
      <title>{escape(p["title"])}</title>
      <updated>2025-10-15T00:00:00-04:00</updated>
      <link href="https://arxiv.org/abs/{p["id"]}" rel="alternate" type="text/html"/>
      <summary>{escape(summary)}</summary>{cats}
      <published>2025-10-15T00:00:00-04:00</published>
      <arxiv:announce_type>{escape(p["announce_type"])}</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>{escape(", ".join(p["authors"]))}</dc:creator>
    </entry>
"""


def feed_error(cats: str) -> str:
    """What rss.arxiv.org serves (HTTP 200) for a category it does not know: no entries."""
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/{cats}</id>
  <title>Feed error for query: {cats}</title>
  <updated>2025-10-15T04:00:00.000Z</updated>
  <link href="http://rss.arxiv.org/atom/{cats}" rel="self" type="application/atom+xml"/>
</feed>
"""


def daily_feed(entries: list[dict[str, Any]], cats: str) -> str:
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/{cats}</id>
  <title>{cats} updates on arXiv.org</title>
  <updated>2025-10-15T04:00:00.000Z</updated>
  <link href="http://rss.arxiv.org/atom/{cats}" rel="self" type="application/atom+xml"/>
  <subtitle>{cats} updates on the arXiv.org e-print archive.</subtitle>
{"".join(daily_entry(p) for p in entries)}</feed>
"""


# ---------------------------------------------------------------------------- the server

DATE_RE = re.compile(r"submittedDate:\[(\d{12})\s+TO\s+(\d{12})\]")
CAT_RE = re.compile(r"cat:([\w.\-]+)")


def _stamp(iso: str) -> str:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%Y%m%d%H%M")


class FakeArxiv:
    """The fake arXiv in a background thread: ``with FakeArxiv(papers=...) as arxiv: arxiv.api_url``."""

    def __init__(
        self,
        papers: list[dict[str, Any]] | None = None,
        feed: list[dict[str, Any]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.papers = sorted(papers or [], key=lambda p: p["submitted"])
        self.feed = feed or []
        self.on_request = on_request
        self.requests: list[dict[str, Any]] = []
        self.empty_pages = 0
        self.drip: float | None = None  # seconds between the bytes of each answer (a stalling server)
        self.unknown_categories = {"cs.FOO"}  # the daily feed answers these with a feed error
        self._faults: deque[tuple[int, dict[str, str], str]] = deque()
        self._lock = threading.Lock()
        self.host, self.port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/query"

    @property
    def feed_url(self) -> str:
        return f"{self.base_url}/atom"

    def env(self) -> dict[str, str]:
        """The settings that point paper-agent here."""
        return {"PAPER_AGENT_ARXIV_API_URL": self.api_url, "PAPER_AGENT_ARXIV_FEED_URL": self.feed_url}

    def fail_next(self, status: int, body: str = "", retry_after: float | str | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._faults.append((status, headers, body))

    # ------------------------------------------------------------------ answers

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, str], str]:
        """(status, headers, body) for a GET; usable without the server (e.g. behind respx)."""
        with self._lock:
            if self._faults:
                return self._faults.popleft()
        if path.rstrip("/").endswith("/api/query"):
            return 200, {}, self._api(params)
        if "/atom/" in path:
            cats = path.rsplit("/atom/", 1)[1]
            wanted = set(cats.replace(" ", "+").split("+"))
            if wanted & self.unknown_categories:
                return 200, {}, feed_error(cats)
            entries = [p for p in self.feed if wanted & set(p["categories"])]
            return 200, {}, daily_feed(entries, cats)
        return 404, {}, "not found"

    def _api(self, params: dict[str, str]) -> str:
        start = int(params.get("start", "0"))
        per_page = int(params.get("max_results", "10"))
        query = "&".join(f"{k}={v}" for k, v in params.items())
        if params.get("id_list"):
            ids = [i.strip() for i in params["id_list"].split(",")]
            bad = next((i for i in ids if not ID_RE.match(i)), None)
            if bad:
                return api_error(f"incorrect id format for {bad}")
            by_id = {p["id"]: p for p in self.papers}
            stripped = [re.sub(r"v\d+$", "", i) for i in ids]
            found = [by_id[i] for i in stripped if i in by_id]
            return api_feed(found[start : start + per_page], len(found), start, query, per_page)
        search = params.get("search_query", "")
        cats = set(CAT_RE.findall(search))
        span = DATE_RE.search(search)
        hits = [
            p
            for p in self.papers
            if (not cats or cats & set(p["categories"]))
            and (not span or span.group(1) <= _stamp(p["submitted"]) <= span.group(2))
        ]
        with self._lock:
            if self.empty_pages and start > 0:
                self.empty_pages -= 1
                return api_feed([], len(hits), start, query, per_page)
        return api_feed(hits[start : start + per_page], len(hits), start, query, per_page)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                record = {"path": url.path, "params": params, "headers": dict(self.headers)}
                with server._lock:
                    server.requests.append(record)
                if server.on_request is not None:
                    server.on_request(record)
                status, headers, body = server.answer(url.path, params)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if server.drip is None:
                    self.wfile.write(data)
                    return
                for i in range(len(data)):  # one byte at a time, as a stalling server does
                    try:
                        self.wfile.write(data[i : i + 1])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(server.drip)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeArxiv:
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeArxiv:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--date", default="2025-10-14", help="Submission day of every paper")
    ap.add_argument("--papers", type=int, default=0, help="Synthetic papers on top of the 40 seed papers")
    args = ap.parse_args(argv)
    papers = seed_papers(args.date) + synthetic_papers(args.papers, args.date)
    feed = [dict(p, announce_type="new") for p in papers[:30]] + [dict(p, announce_type="cross") for p in papers[30:40]]
    server = FakeArxiv(papers, feed, port=args.port).start()
    print(f"fake arXiv on {server.base_url}: {len(papers)} papers submitted {args.date}", file=sys.stderr)
    print(" ".join(f"{k}={v}" for k, v in server.env().items()), file=sys.stderr)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
