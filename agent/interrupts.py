"""Ctrl-C and SIGTERM during an async run, taken at a point where they can stop it.

Python's own SIGINT handler raises ``KeyboardInterrupt`` in whatever frame runs when the signal
lands. During a run that can be asyncio's machinery (a callback lost, the loop left hanging) or a
finaliser such as aiohttp's ``ClientResponse.__del__``, where Python prints "Exception ignored"
and swallows it: the run then carried on to the end and exited 0 (seen in CI, 1 run in a few
hundred). So while a run's event loop is in use, the loop takes the signal instead
(``loop.add_signal_handler``: a self-pipe, no exception anywhere), cancels the step in flight, and
the handler that was installed before (``signal.default_int_handler``, the CLI's SIGTERM handler)
is called from the main thread once that step has unwound, where its exception propagates.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable
from contextlib import suppress
from typing import Any, TypeVar

T = TypeVar("T")

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeferredSignals:
    """Run steps on ``loop``; a SIGINT/SIGTERM cancels the current step and re-raises at its end.

    Only a signal whose handler is a Python function is taken over (Python's default SIGINT
    handler, the CLI's SIGTERM handler, a caller's own): one left at ``SIG_DFL`` or ``SIG_IGN`` is
    the process's own choice and stays as it is, as does everything off the main thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.caught: list[int] = []
        self._previous: dict[int, Any] = {}
        self._step: asyncio.Future[Any] | None = None

    def install(self) -> DeferredSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in SIGNALS:
            handler = signal.getsignal(sig)
            if not callable(handler):
                continue
            try:
                self.loop.add_signal_handler(sig, self._on_signal, int(sig))
            except (NotImplementedError, RuntimeError, ValueError):  # Windows, or no wakeup fd here
                continue
            self._previous[sig] = handler
        return self

    def run(self, awaitable: Awaitable[T]) -> T:
        """``loop.run_until_complete(awaitable)``, stopped by a signal that arrives meanwhile."""
        self.reraise()
        step = asyncio.ensure_future(awaitable, loop=self.loop)
        self._step = step
        try:
            return self.loop.run_until_complete(step)
        except asyncio.CancelledError:
            self.reraise()
            raise
        finally:
            self._step = None

    def _on_signal(self, sig: int) -> None:
        self.caught.append(sig)
        if self._step is not None:
            self._step.cancel()

    def reraise(self) -> None:
        """Call the handler the first caught signal had before (it raises); once per signal."""
        if not self.caught:
            return
        sig = self.caught[0]
        self.caught.clear()
        handler = self._previous.get(sig, signal.default_int_handler)
        handler(sig, None)
        raise KeyboardInterrupt  # a handler that returns has still had this run's step cancelled

    def restore(self) -> None:
        """Give each signal back its handler (closing the loop would leave SIGTERM at ``SIG_DFL``)."""
        for sig, handler in self._previous.items():
            with suppress(Exception):
                self.loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
        self._previous.clear()
