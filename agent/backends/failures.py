"""What went wrong on a call, in the terms the retry loop and the messages need.

Transient (retry with backoff) or not, how long the server asked to wait, and whether the
endpoint was reached at all. Used by the online backend and the batch client, so both retry
and report the same errors the same way. ``openai`` and ``instructor`` are imported inside the
functions: a fully cached run never needs them.
"""

from __future__ import annotations

from agent.backoff import retry_after


def api_error(exc: BaseException) -> BaseException:
    """The openai error behind an instructor wrapper, or ``exc`` itself."""
    from instructor.core import InstructorRetryException

    if isinstance(exc, InstructorRetryException) and exc.__cause__ is not None:
        return exc.__cause__
    return exc


def is_transient(exc: BaseException) -> bool:
    """Whether waiting and retrying can help: 429 (unless the quota is spent), 5xx, 408/409,
    timeouts and connection errors. Any other 4xx will fail the same way again."""
    import openai

    err = api_error(exc)
    if isinstance(err, openai.RateLimitError):
        # 429 with code insufficient_quota is a billing problem: retrying never helps.
        return getattr(err, "code", None) != "insufficient_quota"
    if isinstance(err, (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)):
        return True
    if isinstance(err, openai.APIStatusError):
        return err.status_code >= 500 or err.status_code in (408, 409)
    return False


def retry_after_seconds(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` / ``retry-after-ms`` header, if the server sent one."""
    response = getattr(api_error(exc), "response", None)
    return retry_after(getattr(response, "headers", None))


def is_connection_error(exc: BaseException) -> bool:
    """A failure to reach the endpoint at all (its message should name the host tried)."""
    import openai

    return isinstance(exc, openai.APIConnectionError)  # APITimeoutError is one too
