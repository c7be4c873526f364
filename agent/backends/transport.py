"""The aiohttp transport under the openai SDK, with connection errors reported as such.

``openai[aiohttp]`` puts ``httpx_aiohttp.AiohttpTransport`` under an ``httpx.AsyncClient``.
Profiled over sockets against ``bench/fake_server.py`` (BENCHMARKS.md, 1a), httpcore + anyio
were ~26 % of the client's busy CPU and aiohttp + this adapter are ~8 %; it keeps up at 128
requests in flight, where one httpx pool collapses (encode/httpx#3215).

One thing is corrected here: httpx_aiohttp maps every ``aiohttp.ClientConnectionError`` to
``httpx.ConnectTimeout``, so a refused connection or a dropped keep-alive socket surfaces as
openai's ``APITimeoutError: Request timed out.``, which sends a user looking at the wrong
setting. Errors that are not timeouts are re-raised as ``httpx.ConnectError`` (openai's
``APIConnectionError``), keeping aiohttp's message, which names the host.

This module imports aiohttp; import it only when an aiohttp client is built.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


class ReportingAiohttpTransport(AiohttpTransport):
    """``AiohttpTransport`` that keeps "connection refused/reset" apart from "timed out"."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, asyncio.TimeoutError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise
