"""How long a server asked us to wait: one reader of ``Retry-After`` for every HTTP client.

The LLM path (429s from a model endpoint) and the arXiv fetcher (429/503 from arXiv) both
honour it, so both read it here: seconds or an HTTP date, plus OpenAI's ``retry-after-ms``.
"""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Mapping


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After``; None if absent or unreadable
    (the caller then falls back to exponential backoff)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - time.time())
