"""The adaptive (AIMD) concurrency limiter in front of one endpoint.

Kept apart from the backend that uses it because it is plain asyncio with no HTTP in it: it
decides how many requests may be in flight, and ``OpenAIBackend._post`` tells it what each
request met (a 429 or a success). BENCHMARKS.md shows why the rules are what they are.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable

log = logging.getLogger("agent.backends.limiter")


class AdaptiveLimiter:
    """AIMD concurrency for one endpoint, in the shape of inspect_ai's adaptive connections.

    - **Additive increase**: +1 after every ``limit`` successes (one window). A 429 in between
      does not restart the count: a steady trickle of 429s is handled per request (each waits
      its own ``Retry-After`` without holding a slot) and must not pin the pool at its floor.
    - **Multiplicative decrease**: ``limit * DECREASE`` on a 429, at most once per cool-down.
      A 429 from a call that started before the last decrease ran under the old limit and is
      ignored, and so is one within ``cooldown`` seconds of the last decrease; so a burst of
      429s cuts once, not once per 429 (the old rule halved on every 429 and, with 20 % of
      429s at ``-j 32``, ended at 2-3 in flight). Successes of calls started before the last
      decrease do not count towards growth either.
    - **Floor and ceiling**: ``floor`` <= limit <= ``maximum``.

    ``rate_limited()`` and ``succeeded()`` are called inside ``async with limiter:``; the slot's
    epoch (the number of decreases when it was taken) travels in a ``ContextVar``.
    """

    DECREASE = 0.8
    COOLDOWN_S = 10.0

    def __init__(
        self,
        maximum: int,
        *,
        floor: int = 1,
        cooldown: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = maximum
        self.floor = max(1, min(floor, maximum))
        self.limit = maximum
        self.in_flight = 0
        self.cooldown = self.COOLDOWN_S if cooldown is None else cooldown
        self._clock = clock
        self._epoch = 0
        self._last_decrease: float | None = None
        self._successes = 0
        self._cond: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slot_epoch: contextvars.ContextVar[int | None] = contextvars.ContextVar("slot_epoch", default=None)

    def _condition(self) -> asyncio.Condition:
        # One Condition per event loop: ``Agent.analyze_many`` runs each batch in a new loop,
        # and a Condition from a closed loop fails with "bound to a different event loop".
        loop = asyncio.get_running_loop()
        if self._cond is None or self._loop is not loop:
            self._cond, self._loop = asyncio.Condition(), loop
            self.in_flight = 0  # slots of a finished loop are gone with it
        return self._cond

    async def __aenter__(self) -> AdaptiveLimiter:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        self._slot_epoch.set(self._epoch)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._slot_epoch.set(None)
        cond = self._condition()
        async with cond:
            self.in_flight -= 1
            cond.notify(1)  # one slot freed: wake one waiter, not all of them

    def _current(self) -> bool:
        """Whether the calling slot was taken under the current limit (after the last decrease)."""
        epoch = self._slot_epoch.get()
        return epoch is None or epoch == self._epoch

    def rate_limited(self) -> None:
        """A call in this slot got a 429: cut the limit, unless this burst was already cut for."""
        now = self._clock()
        if not self._current():
            return  # started under the old, higher limit: already accounted for
        if self._last_decrease is not None and now - self._last_decrease < self.cooldown:
            return
        self._epoch += 1
        self._last_decrease = now
        self._successes = 0
        self.limit = max(self.floor, min(self.limit - 1, int(self.limit * self.DECREASE)))
        log.info("concurrency lowered to %d after a 429", self.limit)

    def succeeded(self) -> None:
        """A call in this slot got an answer: one step towards growing the limit back."""
        if not self._current():
            return
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self.limit += 1
            self._successes = 0
            if self._cond is not None:
                # Wake waiters outside a held lock: schedule the notify.
                asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        """Let one waiter take the slot the grown limit opened (``succeeded`` cannot await)."""
        cond = self._condition()
        async with cond:
            cond.notify(1)  # the limit grew by one
