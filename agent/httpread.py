"""Read an HTTP body within a total deadline (and a size cap): one rule for every HTTP path.

httpx's timeout bounds each read, so a server that sends a byte every 2 s never times out.
Reading the body as it arrives and checking a deadline after every chunk bounds the whole
answer. Used by the arXiv client and the endpoint probe.
"""

from __future__ import annotations

import time

import httpx


class TooLarge(ValueError):
    """The answer is over the size cap (said by ``Content-Length``, or found while reading)."""


def read_within(response: httpx.Response, timeout: float, max_bytes: int | None = None) -> bytes:
    """The streamed ``response``'s body, or ``httpx.ReadTimeout`` after ``timeout`` seconds in
    all, or ``TooLarge`` past ``max_bytes`` (before reading when ``Content-Length`` says so)."""
    declared = response.headers.get("Content-Length", "")
    if max_bytes is not None and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(declared)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise TooLarge(str(size))
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout(f"no complete answer within {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)
