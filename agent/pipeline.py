"""The ``Agent``: papers in, ``PaperResult`` out, through the cache and a backend.

Data flows one way: ``Paper`` -> cache lookup -> backend -> ``PaperResult`` -> cache write.
``analyze_many`` streams: it holds at most a small window of papers in flight and yields
results in input order, so a 100,000-paper batch runs in constant memory and its output is
deterministic whatever order the endpoint answers in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.base import Analysis, Backend, BackendFailure
from agent.cache import KeyBuilder, ResultCache
from agent.interrupts import DeferredSignals
from agent.schema import STATUSES, Paper, PaperResult, Usage
from agent.settings import Settings
from agent.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger("agent.pipeline")

OFFLINE_NOTICE = (
    "No LLM configured: using the offline baseline (backend: offline). "
    "Set OPENAI_API_KEY or OPENAI_BASE_URL (see .env.example) to triage with a model."
)


@dataclass
class RunStats:
    """Counters for the end-of-run summary; constant memory whatever the batch size."""

    labels: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATUSES})
    cached: int = 0
    new: int = 0
    reused: int = 0
    skipped_files: int = 0
    left_out: int = 0  # triaged (and cached) but not written: --only / --min-confidence
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    started: float = field(default_factory=time.perf_counter)
    elapsed_s: float = 0.0

    def add(self, result: PaperResult, reused: bool = False) -> None:
        """Count ``result``; ``reused``: copied from an earlier output, so it cost nothing now."""
        self.statuses[result.status] = self.statuses.get(result.status, 0) + 1
        if result.status == "ok" and result.primary:
            self.labels[result.primary] = self.labels.get(result.primary, 0) + 1
        if reused:
            self.reused += 1
            return
        if result.cached:
            self.cached += 1
            return  # a cache hit costs nothing
        if result.status == "skipped":
            return
        self.new += 1
        self.prompt_tokens += result.usage.prompt_tokens
        self.completion_tokens += result.usage.completion_tokens
        if result.usage.cost_usd is None:
            if result.usage.total_tokens:
                self.unpriced += 1
        else:
            self.cost_usd += result.usage.cost_usd

    def skip_file(self, problem: object) -> None:
        """An input file found in a folder could not be read as papers (already warned about)."""
        self.skipped_files += 1

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def finish(self) -> RunStats:
        self.elapsed_s = time.perf_counter() - self.started
        return self


class Agent:
    """Classify papers and write English TL;DRs, with every result cached.

    ``backend`` is ``"auto"`` (openai when a key or base URL is configured, else offline),
    ``"offline"``, ``"openai"`` or a ``Backend`` instance. Every other argument overrides the
    matching setting from the environment / ``.env`` (see ``Settings``).
    """

    def __init__(
        self,
        backend: str | Backend = "auto",
        *,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        taxonomy: Taxonomy | str | Path | None = None,
        cache: bool = True,
        cache_dir: str | Path | None = None,
        refresh: bool = False,
        concurrency: int | None = None,
        max_retries: int | None = None,
        mode: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        timeout: float | None = None,
        prices_file: str | Path | None = None,
        prompt_version: str | None = None,
        model_file: str | Path | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = Settings.load(
            settings,
            model=model,
            base_url=base_url,
            api_key=api_key,
            cache_dir=cache_dir,
            concurrency=concurrency,
            max_retries=max_retries,
            mode=mode,
            temperature=temperature,
            max_tokens=max_tokens,
            timeout=timeout,
            prices_file=prices_file,
            prompt_version=prompt_version,
            model_file=model_file,
            backend=backend if isinstance(backend, str) else None,
        )
        self.taxonomy = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
        self.notice: str | None = None
        if isinstance(backend, str):
            self.backend = self._make_backend()
        else:
            self.backend = backend
        self._keys = KeyBuilder(self.backend.cache_components())
        self.refresh = refresh
        self.cache: ResultCache | None = ResultCache(self.settings.cache_dir) if cache else None

    def _make_backend(self) -> Backend:
        name = self.settings.resolved_backend()
        if name == "offline":
            from agent.backends.offline import OfflineBackend

            if self.settings.backend == "auto":
                self.notice = OFFLINE_NOTICE
            return OfflineBackend(self.taxonomy, model_file=self.settings.model_file)
        from agent.backends.openai import OpenAIBackend

        return OpenAIBackend(self.settings, self.taxonomy)

    # ------------------------------------------------------------------ one paper
    def cache_key(self, paper: Paper) -> str:
        return self._keys.key(paper)

    def explain(self, paper: Paper) -> dict[str, Any]:
        """The cache key of ``paper`` and the digest of each component that went into it."""
        key = self._keys.key(paper)
        present = self.cache is not None and self.cache.entry(key) is not None
        return {"key": key, "cached": present, "components": self._keys.explain(paper)}

    def skip_reason(self, paper: Paper) -> str | None:
        """Why ``paper`` is never sent to a backend (``no abstract (file:line)``), or None.

        The one rule for online runs and bulk jobs alike, so a paper is ``skipped`` with the
        same reason however it is triaged.
        """
        if paper.abstract.strip():
            return None
        where = f" ({paper.source_file}:{paper.source_line})" if paper.source_file else ""
        return f"no abstract{where}"

    def from_cache(self, paper: Paper, key: str | None = None) -> PaperResult | None:
        """The cached result for ``paper`` (under ``key``, default its cache key), reported as ``paper``.

        The same text under another id (a re-post) has the same key: the hit is re-stamped with
        this paper's id, URL, title and authors, online and in bulk jobs alike.
        """
        if self.cache is None:
            return None
        hit = self.cache.get(key if key is not None else self._keys.key(paper))
        if hit is not None:
            hit.id, hit.url, hit.title, hit.authors = paper.id, paper.url, paper.title, paper.authors
        return hit

    def _lookup(self, paper: Paper) -> tuple[PaperResult | None, str]:
        reason = self.skip_reason(paper)
        if reason is not None:
            return self.result_for(paper, status="skipped", error=reason), ""
        key = self._keys.key(paper)
        if not self.refresh:
            hit = self.from_cache(paper, key)
            if hit is not None:
                return hit, key
        return None, key

    def _finish(self, paper: Paper, key: str, outcome: Analysis | BackendFailure, started: float) -> PaperResult:
        # A backend that times its own HTTP calls reports that (waiting for a concurrency
        # slot or a backoff is not the endpoint's latency); otherwise use the wall time.
        usage = outcome.usage
        if not usage.latency_ms:
            usage = usage.model_copy(update={"latency_ms": round((time.perf_counter() - started) * 1000, 2)})
        if isinstance(outcome, BackendFailure):
            return self.result_for(paper, status=outcome.status, error=str(outcome), usage=usage)
        result = self.result_of(paper, outcome, usage)
        if self.cache is not None:
            self.cache.set(key, result, outcome.attempts or [usage], self._keys.component_digests)
        return result

    @property
    def key_components(self) -> dict[str, str]:
        """Digests of what every cache key of this agent is made of (model, prompt, taxonomy...):
        a batch manifest records them so results are only ever stored under matching settings."""
        return self._keys.component_digests

    def result_of(self, paper: Paper, analysis: Analysis, usage: Usage | None = None) -> PaperResult:
        """The ``ok`` result of a backend's ``analysis`` for ``paper`` (online and from batch files)."""
        return self.result_for(
            paper,
            primary=analysis.primary,
            secondary=analysis.secondary,
            confidence=analysis.confidence,
            tldr=analysis.tldr,
            evidence=analysis.evidence,
            usage=usage if usage is not None else analysis.usage,
        )

    def result_for(self, paper: Paper, **fields: Any) -> PaperResult:
        """A ``PaperResult`` for ``paper`` stamped with this agent's backend, model and taxonomy."""
        return PaperResult(
            id=paper.id,
            title=paper.title,
            authors=paper.authors,
            url=paper.url,
            backend=self.backend.name,
            model=self.backend.model,
            prompt_version=self.backend.prompt_version,
            taxonomy=self.taxonomy.tag,
            **fields,
        )

    async def aanalyze(self, paper: Paper) -> PaperResult:
        """Analyse one paper (async). Never raises for a paper the backend fails on."""
        hit, key = self._lookup(paper)
        if hit is not None:
            return hit
        started = time.perf_counter()
        try:
            outcome: Analysis | BackendFailure = await self.backend.analyze(paper)
        except BackendFailure as failure:
            outcome = failure
        return self._finish(paper, key, outcome, started)

    def _analyze_sync(self, paper: Paper) -> PaperResult:
        hit, key = self._lookup(paper)
        if hit is not None:
            return hit
        started = time.perf_counter()
        try:
            outcome: Analysis | BackendFailure = self.backend.analyze_sync(paper)  # type: ignore[attr-defined]
        except BackendFailure as failure:
            outcome = failure
        return self._finish(paper, key, outcome, started)

    def analyze(self, paper: Paper) -> PaperResult:
        """Analyse one paper."""
        if getattr(self.backend, "is_sync", False):
            return self._analyze_sync(paper)
        return asyncio.run(self.aanalyze(paper))

    # ------------------------------------------------------------------ many papers
    async def aanalyze_many(self, papers: Iterable[Paper]) -> AsyncGenerator[PaperResult, None]:
        """Yield one result per paper, in input order, with up to ``concurrency`` calls in flight."""
        if getattr(self.backend, "is_sync", False):
            for paper in papers:
                yield self._analyze_sync(paper)
            return
        window = max(self.settings.concurrency * 4, 16)
        pending: deque[asyncio.Task[PaperResult]] = deque()
        try:
            for paper in papers:
                pending.append(asyncio.create_task(self.aanalyze(paper)))
                while pending and (len(pending) >= window or pending[0].done()):
                    yield await pending.popleft()
            while pending:
                yield await pending.popleft()
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def analyze_many(
        self, papers: Iterable[Paper], on_result: Callable[[PaperResult], None] | None = None
    ) -> Generator[PaperResult, None, None]:
        """Yield one result per paper, in input order (sync wrapper over ``aanalyze_many``)."""
        if getattr(self.backend, "is_sync", False):
            for paper in papers:
                result = self._analyze_sync(paper)
                if on_result:
                    on_result(result)
                yield result
            return
        loop = asyncio.new_event_loop()
        signals = DeferredSignals(loop).install()  # Ctrl-C stops the run at a step's end, see interrupts
        agen = self.aanalyze_many(papers)
        try:
            while True:
                try:
                    result = signals.run(agen.__anext__())
                except StopAsyncIteration:
                    break
                if on_result:
                    on_result(result)
                yield result
        finally:
            try:
                self._wind_down(loop, agen)
            finally:
                signals.restore()

    def _wind_down(self, loop: asyncio.AbstractEventLoop, agen: Any) -> None:
        """After the last result, Ctrl-C or an abandoned generator: cancel what is in flight
        (finished results are already in the cache), close the generator and the backend.

        Where the loop could not take the signals over (off the main thread, a handler left at
        ``SIG_DFL``), a ``KeyboardInterrupt`` raised inside a task leaves the generator mid-step
        (aclose() would raise "already running"): cancelling its tasks lets its own finally block
        run first. One raised between the loop taking a callback and running it loses that
        callback, so a task may never finish and a ``stop()`` may be left pending; so each step is
        bounded (5 s) and re-run once if the loop stopped early, and nothing here is reported as a
        traceback.
        """
        loop.set_exception_handler(lambda _loop, _context: None)  # "Task was destroyed" on the way out
        leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftover:
            task.cancel()
        steps: list[Any] = [asyncio.wait(leftover, timeout=5)] if leftover else []
        steps.append(asyncio.wait_for(agen.aclose(), 5))
        aclose = getattr(self.backend, "aclose", None)
        if aclose is not None:
            steps.append(asyncio.wait_for(aclose(), 5))
        for step in steps:
            future = asyncio.ensure_future(step, loop=loop)
            for _ in range(2):
                try:
                    loop.run_until_complete(future)
                except (RuntimeError, TimeoutError, asyncio.CancelledError):
                    pass  # stopped early (run again), already running, or timed out: best effort
                if future.done():
                    break
        loop.close()

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
