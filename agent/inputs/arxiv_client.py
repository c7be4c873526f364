"""Talking to arXiv politely: one request at a time, spaced, identified, retried, cached.

As arXiv's terms of use ask: requests at least 3 s apart (a ``Throttle`` shared by every fetch
in the process, with an injectable clock and sleep, and across processes through a locked
timestamp file in the cache folder), a User-Agent naming paper-agent, its
version and ``PAPER_AGENT_CONTACT``, a total deadline and a size cap per answer, and tenacity retries on
429/5xx/timeouts that honour ``Retry-After``. Every page that parsed is kept in the
``PageCache``; what to ask for is ``agent.inputs.arxiv``'s business.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: requests are spaced within one process only
    fcntl = None  # type: ignore[assignment]

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from agent.backoff import retry_after
from agent.cache import PageCache
from agent.errors import FetchError, InputError
from agent.httpread import TooLarge, read_within
from agent.inputs.atom import AtomFeed, read_atom
from agent.settings import Settings
from agent.version import __version__

log = logging.getLogger(__name__)

MIN_INTERVAL = 3.0  # seconds between requests (arXiv API terms of use)
STAMP_FILE = "arxiv-last-request"  # in the cache folder: the spacing across processes
# The most one answer may hold: a full page of 2,000 API results is ~6 MB, today's feed far less.
# More is a broken or hostile server; reading it whole cost 1.9 GB of memory for a 210 MB page.
MAX_RESPONSE_BYTES = 20 * 2**20
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Throttle:
    """At most one request per ``interval`` seconds, measured on an injectable clock.

    ``clock`` is wall time (``time.time``) because the same clock decides what "today" is and
    how old a cached page is; a wait is capped at ``interval`` so a clock that steps back
    cannot stall a fetch.
    """

    def __init__(
        self,
        interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.last: float | None = None

    def wait(self, stamp: Path | None = None) -> None:
        """Sleep until ``interval`` has passed since the previous request, then mark this one.

        With ``stamp`` (a file in the cache folder) the previous request may be another
        process's: the file holds the time of the last request to arXiv from any paper-agent
        sharing that folder, read and written under an exclusive lock held across the sleep, so
        two ``fetch`` commands run back to back are spaced too. A stamp that cannot be used
        (read-only folder, no ``fcntl``) leaves the spacing to this process alone.
        """
        if stamp is None or fcntl is None:
            self._wait_after(self.last)
            return
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            with stamp.open("a+", encoding="ascii") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
                handle.seek(0)
                previous = _float(handle.read())
                if previous is None or (self.last is not None and self.last > previous):
                    previous = self.last
                self._wait_after(previous)
                handle.seek(0)
                handle.truncate()
                handle.write(repr(self.last))
        except OSError as exc:
            log.debug("arXiv request stamp %s unusable (%s): spacing this process only", stamp, exc)
            self._wait_after(self.last)

    def _wait_after(self, last: float | None) -> None:
        """Sleep until ``interval`` after ``last`` (never longer than ``interval``), mark now."""
        if last is not None:
            gap = last + self.interval - self.clock()
            if gap > 0:
                self.sleep(min(gap, self.interval))
        self.last = self.clock()


def _float(text: str) -> float | None:
    """The timestamp in a stamp file, or None when it is empty or not a number."""
    try:
        return float(text.strip())
    except ValueError:
        return None


# One per process: two fetches in one run (``run arxiv:cs.IR arxiv:cs.CL``) share the spacing.
DEFAULT_THROTTLE = Throttle()
_THROTTLES: dict[tuple[Callable[[], float], Callable[[float], None]], Throttle] = {}


def throttle_for(clock: Callable[[], float] | None, sleep: Callable[[float], None] | None) -> Throttle:
    """The process-wide throttle, or one per injected clock, so the spacing spans fetches too."""
    if clock is None and sleep is None:
        return DEFAULT_THROTTLE
    key = (clock or time.time, sleep or time.sleep)
    if key not in _THROTTLES:
        while len(_THROTTLES) >= 16:  # injected clocks come from tests and tools: keep a few
            _THROTTLES.pop(next(iter(_THROTTLES)))
        _THROTTLES[key] = Throttle(MIN_INTERVAL, *key)
    return _THROTTLES[key]


def user_agent(contact: str | None) -> str:
    """``paper-agent/0.1.0 (+mailto:you@example.org)``: who is asking, and how to reach them."""
    contact = (contact or "").strip()
    if not contact:
        return f"paper-agent/{__version__}"
    if "@" in contact and ":" not in contact:
        contact = f"mailto:{contact}"
    return f"paper-agent/{__version__} (+{contact})"


class _Retryable(Exception):
    """A 429/5xx answer, kept with its response so the wait can honour ``Retry-After``."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def _retry_after(exc: BaseException | None) -> float | None:
    """The server's ``Retry-After`` hint for a 429/5xx answer, in seconds, if it sent one."""
    return retry_after(exc.response.headers) if isinstance(exc, _Retryable) else None


def _transient(exc: BaseException) -> bool:
    """Worth retrying: 429/5xx, timeouts and dropped connections, but never a malformed URL."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return False
    return isinstance(exc, (_Retryable, httpx.TimeoutException, httpx.TransportError))


def _log_retry(state: RetryCallState) -> None:
    """tenacity's before_sleep: one line per retried arXiv request."""
    error = state.outcome.exception() if state.outcome is not None else None
    log.info("arXiv: %s, retrying (attempt %d)", _describe(error) if error else "no answer", state.attempt_number)


def _describe(exc: BaseException) -> str:
    """A short phrase for a failed request, for the one-line ``FetchError`` and the retry log."""
    if isinstance(exc, _Retryable):
        return str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return str(exc) if str(exc).startswith("no complete answer") else "timed out"
    return f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__


@dataclass
class Client:
    """Sends GETs to arXiv politely and keeps every page that parsed in the page cache."""

    settings: Settings
    cache: PageCache | None
    refresh: bool
    throttle: Throttle
    stamp: Path | None = None  # the cross-process request stamp (``Throttle.wait``)
    requests: int = 0
    cached_pages: int = 0
    _http: httpx.Client | None = None

    def close(self) -> None:
        """Close the HTTP connection and the page cache (both opened on first use)."""
        if self._http is not None:
            self._http.close()
        if self.cache is not None:
            self.cache.close()

    def _send(self, url: str, params: dict[str, str]) -> str:
        """One spaced GET (the HTTP client is opened on first use): 429/5xx raise ``_Retryable``."""
        if self._http is None:
            self._http = httpx.Client(
                headers={"User-Agent": user_agent(self.settings.contact)},
                timeout=self.settings.timeout,
                follow_redirects=True,
            )
        self.throttle.wait(self.stamp)
        self.requests += 1
        with self._http.stream("GET", url, params=params) as response:
            if response.status_code in RETRY_STATUSES:
                raise _Retryable(response)
            text = _read_body(response, self.settings.timeout)
        if response.status_code >= 400:
            detail = _error_summary(text)
            raise InputError(str(response.request.url), f"arXiv answered HTTP {response.status_code}{detail}")
        return text

    def _wait(self, state: Any) -> float:
        """Seconds before the next try: ``Retry-After`` when given (capped), else jittered backoff."""
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after(exc)
        if hinted is not None:
            return min(hinted, self.settings.retry_max_wait)
        return wait_exponential_jitter(multiplier=MIN_INTERVAL, max=self.settings.retry_max_wait, jitter=1)(state)

    def get(self, url: str, params: dict[str, str], *, settled: bool, fresh: bool = False) -> tuple[str, bool]:
        """The body of ``url?params`` and whether it came from the cache (never when ``fresh``)."""
        key = str(httpx.URL(url, params=params))
        if self.cache is not None and not (self.refresh or fresh):
            text = self.cache.get(
                key, max_age=None if settled else self.settings.arxiv_max_age, now=self.throttle.clock()
            )
            if text is not None:
                self.cached_pages += 1
                log.info("from the cache: %s", key)
                return text, True
        log.info("GET %s", key)
        retrying = Retrying(
            retry=retry_if_exception(_transient),
            wait=self._wait,
            stop=stop_after_attempt(self.settings.retry_attempts) | stop_after_delay(self.settings.retry_total),
            sleep=self.throttle.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            return retrying(self._send, url, params), False
        except (_Retryable, httpx.HTTPError) as exc:
            tries = retrying.statistics.get("attempt_number", 1)
            raise FetchError(
                f"arXiv did not answer ({_describe(exc)}) after {tries} tr{'y' if tries == 1 else 'ies'}"
            ) from None

    def store(self, url: str, params: dict[str, str], text: str) -> None:
        """Keep a page that parsed and holds what it should (never an empty or broken one)."""
        if self.cache is not None:
            self.cache.set(str(httpx.URL(url, params=params)), text, now=self.throttle.clock())


def _read_body(response: httpx.Response, timeout: float) -> str:
    """The body, read as it arrives, within ``timeout`` seconds in all and ``MAX_RESPONSE_BYTES``.

    httpx's timeout bounds each read, so a server sending a byte every 2 s never times out:
    the total deadline is checked after every chunk (a late one raises ``ReadTimeout``, retried
    like any timeout). An answer over the size cap is an ``InputError``, before it is read
    when ``Content-Length`` says so.
    """
    try:
        body = read_within(response, timeout, MAX_RESPONSE_BYTES)
    except TooLarge:
        where = str(response.request.url)
        raise InputError(where, f"arXiv's answer is over {MAX_RESPONSE_BYTES:,} bytes, the cap on one answer") from None
    except httpx.ReadTimeout:
        raise httpx.ReadTimeout(f"no complete answer within {timeout:g} s (PAPER_AGENT_TIMEOUT)") from None
    return body.decode(response.encoding or "utf-8", errors="replace")


def _error_summary(text: str) -> str:
    """``: <message>`` from an API error entry in an HTTP error body, so the user sees arXiv's reason."""
    try:
        feed = read_atom(text, "<response>")
    except InputError:
        return ""
    return f": {feed.error}" if feed.error else ""


def parse_page(text: str, where: str) -> AtomFeed:
    """One page arXiv sent, as a feed; an empty answer or an API error entry is an ``InputError``."""
    if not text.strip():
        raise InputError(where, "arXiv sent an empty response, expected an Atom feed")
    feed = read_atom(text, where)
    if feed.error is not None:
        raise InputError(where, f"arXiv API error: {feed.error}")
    return feed
