"""When instructor re-asks: after a reply breaks the contract, up to ``max_retries`` times, but
never again after a re-ask that broke the same rule as the answer before it.

Why: a re-ask that gets the same failure back (the same field, the same rule) says the model
cannot do what is asked; asking a third time costs another call and almost never changes the
answer. Measured on SmolLM2-135M (llama-cpp-python, 40 seed papers): 2.7 calls a paper, 1 of 40
answers fixed by a re-ask. A re-ask that fails on a *different* rule made progress, so it may be
followed by the next one, up to ``max_retries``.
"""

from __future__ import annotations

import json
import re

from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"|\(got [^)]*\)|\d+")


def failure_signature(exc: BaseException | None) -> tuple[str, ...]:
    """What rule a reply broke, without what it said: the field and the message with quoted
    text and numbers taken out ("evidence '123' does not occur..." and "evidence 'x' does not
    occur..." are the same failure)."""
    if isinstance(exc, ValidationError):
        return tuple(
            sorted(
                f"{'.'.join(str(p) for p in e['loc'])}:{e['type']}:{QUOTED_RE.sub('_', str(e.get('msg', '')))}"
                for e in exc.errors()
            )
        )
    if isinstance(exc, json.JSONDecodeError):
        return ("json",)
    return (exc.__class__.__name__,) if exc is not None else ()


class SameFailure(stop_base):
    """A tenacity stop condition: stop when the last two failures have the same signature."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, ...]] = []

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        signature = failure_signature(outcome.exception() if outcome is not None else None)
        repeated = bool(self.seen) and self.seen[-1] == signature
        self.seen.append(signature)
        return repeated


def reask_policy(max_retries: int) -> AsyncRetrying:
    """instructor's ``max_retries`` for one paper: at most ``max_retries`` re-asks, none after a
    repeated failure. Only reply-parsing errors are re-asked; transport errors propagate (the
    backend's own tenacity loop owns those)."""
    from instructor.core import AsyncValidationError, ResponseParsingError

    return AsyncRetrying(
        stop=stop_after_attempt(max(max_retries, 0) + 1) | SameFailure(),
        retry=retry_if_exception_type(
            (ValidationError, json.JSONDecodeError, AsyncValidationError, ResponseParsingError)
        ),
        reraise=True,
    )
