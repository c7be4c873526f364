"""Per-call bookkeeping of the LLM backend: what each request and reply of one paper did.

instructor calls these hooks around every HTTP call (``completion:kwargs``, ``:response``,
``:error``); they record attempts and usage in context variables the backend sets around one
paper's calls, and repair or describe what real servers send back (agent.backends.quirks).
Kept apart from ``openai.py`` so the backend class reads as the request flow.
"""

from __future__ import annotations

import contextvars
import json
from typing import Any

from agent.backends.quirks import ReplyLog, ReplyNote, repair_completion, snippet
from agent.schema import Usage

attempts_var: contextvars.ContextVar[list[Usage] | None] = contextvars.ContextVar("attempts", default=None)
# Time spent inside HTTP calls for the current paper (not waiting for a slot or a backoff).
call_seconds_var: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("call_seconds", default=None)
# What each reply of the current paper looked like (agent.backends.quirks), for its reason.
replies_var: contextvars.ContextVar[ReplyLog | None] = contextvars.ContextVar("replies", default=None)


def timeout_error(base_url: str, seconds: float) -> Exception:
    """The SDK's own timeout error (retryable, described like any other) for our total deadline."""
    import httpx
    import openai

    request = httpx.Request("POST", f"{base_url}/chat/completions")
    return openai.APITimeoutError(request=request)


def got(error: Any) -> str:
    """`` (got 85)``: the value a validation error is about, so the reason names what came back."""
    value = error.get("input")
    if isinstance(value, (dict, list)) or value is None or error.get("type") == "missing":
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f" (got {value})"
    return f" (got {snippet(str(value), 60)})"


def tail(completion: Any) -> str:
    """``; the reply ends '...'`` for a truncated completion (what was cut off)."""
    try:
        message = completion.choices[0].message
        text = message.content or "".join(tc.function.arguments or "" for tc in message.tool_calls or [])
    except (AttributeError, IndexError, TypeError):
        return ""
    return f"; the reply ends {snippet(text[-60:], 60)}" if text else ""


class StopCall(BaseException):
    """Raised from a hook when the endpoint, not the model, failed (an error object or a web
    page with status 200): no re-ask can help. instructor's hooks swallow ``Exception`` (they
    only warn), so this derives from ``BaseException``: it passes through instructor's retry
    loop and ours untouched and ``analyze`` turns it into ``CallFailed`` after one call."""

    def __init__(self, note: ReplyNote) -> None:
        super().__init__(note.text)
        self.note = note


def on_request(*args: Any, **kwargs: Any) -> None:
    attempts = attempts_var.get()
    if attempts is not None:
        attempts.append(Usage(attempts=1))
    replies = replies_var.get()
    if replies is not None:
        replies.expect(kwargs)


def on_error(error: BaseException, *args: Any, **kwargs: Any) -> None:
    # The SDK could not read a 200 body labelled JSON: the endpoint's fault, stop at once
    # (instructor would otherwise retry it as a parse error).
    if isinstance(error, json.JSONDecodeError) and replies_var.get() is not None:
        raise StopCall(ReplyNote(f"the endpoint answered HTTP 200 with a body that is not JSON ({error})", fatal=True))


def on_response(response: Any, *args: Any, **kwargs: Any) -> None:
    # What real servers send back (code fences, <think> blocks, tool calls as text, error
    # objects with status 200) is repaired or described here, before instructor parses it.
    replies = replies_var.get()
    note = repair_completion(response, replies)
    if replies is not None:
        replies.replies += 1
        replies.notes.append(note)
    if note is not None and note.fatal and replies is not None:
        raise StopCall(note)
    attempts = attempts_var.get()
    usage = getattr(response, "usage", None)
    if attempts and usage is not None:
        last = attempts[-1]
        last.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        last.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        last.total_tokens = last.prompt_tokens + last.completion_tokens
