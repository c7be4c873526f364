"""Suggested fixes, simulated by monkeypatching inside a benchmark process only.

Nothing under ``agent/`` is changed. ``apply()`` lets ``bench/throughput.py --what-if``
measure how much of the per-call CPU the suggested fixes would remove:

- ``context``: call instructor without ``context=`` (instructor renders every message as a
  Jinja2 template when a context is given: ~1.8 ms/call and paper text is evaluated as Jinja).
  The real fix keeps the evidence check by handing the abstract to the validator through a
  ContextVar; here the check is simply skipped (it costs microseconds).
- ``model``: pass instructor a response model that is already a ``ResponseSchema`` subclass
  (``instructor.openai_schema(model)`` once), so it does not ``create_model`` on every call.
- ``limiter``: an ``asyncio.Semaphore`` in place of ``AdaptiveLimiter``'s Condition +
  ``notify_all`` (which wakes every waiter on every release). The real fix keeps AIMD: wake
  one waiter per freed slot.
"""

from __future__ import annotations

import asyncio
from typing import Any

FIXES = ("context", "model", "limiter")


class _Semaphore:
    def __init__(self, n: int) -> None:
        self._sem = asyncio.Semaphore(n)

    async def __aenter__(self) -> "_Semaphore":
        await self._sem.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sem.release()

    def rate_limited(self) -> None:
        pass

    def succeeded(self) -> None:
        pass


def apply(fixes: tuple[str, ...] = FIXES) -> None:
    import instructor

    import agent.backends.openai as oa

    original_init = oa.OpenAIBackend.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if "model" in fixes:
            self.response_model = instructor.openai_schema(self.response_model)
        if "limiter" in fixes:
            self.limiter = _Semaphore(self.settings.concurrency)

    oa.OpenAIBackend.__init__ = __init__  # type: ignore[method-assign]

    if "context" in fixes:

        async def _call(self: Any, paper: Any) -> Any:
            client = self._client()
            async with self.limiter:
                return await client.chat.completions.create(
                    model=self.model,
                    messages=self.prompt.messages(paper),
                    response_model=self.response_model,
                    max_retries=self.settings.max_retries,
                    temperature=self.settings.temperature,
                    max_tokens=self.settings.max_tokens,
                )

        oa.OpenAIBackend._call = _call  # type: ignore[method-assign]
