"""The LLM backend: one structured call per paper to any OpenAI-compatible endpoint.

- ``instructor`` turns the reply into a pydantic model whose label fields are a ``Literal`` of
  the taxonomy's labels (``agent/backends/contract.py``), and re-asks with the validation error
  (``max_retries`` times) when the reply breaks the contract; after that the paper is
  ``invalid``, never a silent fallback.
- ``tenacity`` owns transport retries (the openai client's own are off, so every attempt is
  visible): 429 (honouring ``Retry-After``), 5xx, timeouts and connection errors, with
  exponential backoff and jitter, bounded in attempts and total time. 4xx errors other than
  429 are never retried, and neither is a 429 that means the quota is spent.
- An AIMD limiter keeps at most ``concurrency`` calls in flight: a 429 waits its own
  ``Retry-After``; the pool shrinks by a fifth at most once per cool-down and grows back one
  step per ``limit`` successes (``AdaptiveLimiter`` in ``agent/backends/limiter.py``).
- HTTP goes through the SDK's aiohttp transport by default (``openai[aiohttp]``, see
  ``agent/backends/transport.py``); on httpx, calls are spread over several clients because one
  httpx pool collapses above ~64 requests in flight (encode/httpx#3215).
- Requests are sent with the SDK's ``client.post`` rather than ``chat.completions.create``,
  whose per-call parameter walk is a no-op on our requests (``OpenAIBackend._poster``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from agent.backends.base import Analysis, CallFailed, InvalidOutput
from agent.backends.calls import (
    StopCall,
    attempts_var,
    call_seconds_var,
    got,
    on_error,
    on_request,
    on_response,
    replies_var,
    tail,
    timeout_error,
)
from agent.backends.contract import abstract_for_evidence as _abstract  # set around each paper's calls
from agent.backends.contract import (
    build_response_model,
    evidence_choices,
    reply_token_budget,
    title_for_tldr,
    validation_failure,
)
from agent.backends.dialects import COMPACT_PROMPT, CONSTRAINED, EndpointProfile, shaped
from agent.backends.failures import api_error as _api_error
from agent.backends.failures import is_connection_error as _is_connection_error
from agent.backends.failures import is_transient, retry_after_seconds
from agent.backends.limiter import AdaptiveLimiter
from agent.backends.probe import EndpointUnreachable, resolve_mode
from agent.backends.quirks import (
    ReplyLog,
    describe_status_error,
    repair_completion,
)
from agent.backends.reasks import reask_policy
from agent.errors import ConfigError
from agent.pricing import load_prices, price_for
from agent.prompts import PromptTemplate, load_prompt
from agent.redaction import redact, strip_url_credentials
from agent.schema import Paper, Usage
from agent.settings import Settings
from agent.taxonomy import Taxonomy

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("agent.backends.openai")
for _noisy in ("instructor", "openai", "httpx", "httpcore"):
    logging.getLogger(_noisy).addHandler(logging.NullHandler())
    logging.getLogger(_noisy).propagate = False

PER_CLIENT = 32

# --mode -> instructor mode: tool calling, response_format json_schema, response_format json_object
# (the schema then travels in the system message only; for servers without json_schema support).
# json_object_schema is prepared and parsed as json_schema, then sent in llama-cpp-python's shape
# (agent.backends.dialects); auto is resolved to one of these before the first request.
INSTRUCTOR_MODES = {"tools": "TOOLS", "json": "JSON_SCHEMA", "json_object_schema": "JSON_SCHEMA", "json_object": "JSON"}


def _analysis(reply: Any, usage: Usage, attempts: list[Usage]) -> Analysis:
    """A validated reply (online or from a batch results file) as the backend's answer."""
    return Analysis(
        primary=reply.primary,
        secondary=list(reply.secondary),
        confidence=float(reply.confidence),
        tldr=reply.tldr,
        evidence=reply.evidence,
        usage=usage,
        attempts=attempts,
    )


class OpenAIBackend:
    """Structured triage through an OpenAI-compatible chat completions endpoint."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        taxonomy: Taxonomy,
        *,
        prompt: PromptTemplate | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        on_response: Sequence[Callable[[httpx.Response], Awaitable[None]]] = (),
    ) -> None:
        """``on_response``: async callables given every HTTP response the backend receives (httpx
        ``event_hooks``, on whichever client the settings pick), so a caller such as ``check``
        can read headers of exactly the calls a run makes without reaching into the SDK."""
        if not settings.model:
            raise ConfigError("no model configured: set PAPER_AGENT_MODEL or pass --model")
        if not settings.api_key and not settings.base_url:
            # Without either, every call would go to api.openai.com unauthenticated and be
            # retried until it gives up: minutes of "Connection error" for nothing.
            raise ConfigError(
                "backend openai needs an endpoint: set OPENAI_API_KEY (for api.openai.com) or "
                "OPENAI_BASE_URL / --base-url (a local server such as vLLM or Ollama), see .env.example"
            )
        self.settings = settings
        self.taxonomy = taxonomy
        self.model = settings.model
        self.prompt = prompt or load_prompt(taxonomy, settings.prompt_version)
        self.prompt_version = self.prompt.version
        self.response_model = build_response_model(taxonomy)
        self.prices = load_prices(settings.prices_file)
        self.price = price_for(self.model, self.prices)
        self._sleep = sleep or asyncio.sleep
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        self.limiter = AdaptiveLimiter(settings.concurrency)
        self.max_tokens = settings.max_tokens or reply_token_budget()
        self.mode: str | None = None if settings.mode == "auto" else settings.mode
        self.profile: EndpointProfile | None = None
        # On a probed local server with a constraining shape, the grammar picks the evidence from
        # the abstract's own sentences (contract.evidence_choices); set by _fit_to.
        self.evidence_from_abstract = False
        self._unreachable: str | None = None
        self._clients: list[Any] = []
        self._wrapped_model: Any = None
        self._fixed_body: dict[str, Any] | None = None
        self._next = 0
        self._response_hooks = list(on_response)

    # ------------------------------------------------------------------ identity
    @property
    def base_url(self) -> str:
        return (self.settings.base_url or "https://api.openai.com/v1").rstrip("/")

    @property
    def public_base_url(self) -> str:
        """The base URL without credentials (``https://user:token@host`` -> ``https://host``)."""
        return strip_url_credentials(self.base_url)

    def cache_components(self) -> dict[str, Any]:
        """What changes an answer. ``--mode auto`` is resolved first (from the remembered probe, or
        by probing once), since the shape and a prompt chosen for a small context change answers."""
        try:
            mode = self.resolve_mode()
        except CallFailed:  # unreachable: every paper fails anyway, and nothing is cached
            mode = self.settings.mode
        components = {
            "backend": self.name,
            "model": self.model,
            "base_url": self.public_base_url,
            "mode": mode,
            "prompt": self.prompt.system_template + "\x00" + self.prompt.user_template,
            "prompt_version": self.prompt_version,
            "taxonomy": self.taxonomy.canonical_json,
            "schema": json.dumps(self.response_model.model_json_schema(), sort_keys=True),
            "temperature": self.settings.temperature,
            "max_tokens": self.settings.max_tokens,
        }
        if self.evidence_from_abstract:  # only then, so every other cache key stays as it was
            components["evidence"] = "abstract-choices"
        return components

    def resolve_mode(self) -> str:
        """The concrete request shape: ``--mode``, or for ``auto`` the probe's (remembered) choice.

        Run once, before the first request. With a profile that names the server's parallel
        slots (llama-cpp-python: 1; llama-server: ``/props``) and no ``--concurrency`` given,
        no more requests are sent at once than the server serves: queued requests would only
        time out and be sent again.
        """
        if self._unreachable is not None:
            raise CallFailed(self._unreachable)
        if self.mode is None:
            s = self.settings
            try:
                mode, profile = resolve_mode(s.mode, self.base_url, self.model, self._secret, s.cache_dir, s.timeout)
            except EndpointUnreachable as exc:  # every paper fails with this, without probing again
                self._unreachable = redact(str(exc), self._secret)
                raise CallFailed(self._unreachable) from None
            self.mode, self.profile = mode, profile
            if profile is not None:
                self._fit_to(profile)
        return self.mode

    def _fit_to(self, profile: EndpointProfile) -> None:
        """Settings the user left at their defaults, fitted to what the server said about itself:
        never more requests in flight than its slots, and the compact prompt when a slot's
        context would not hold the full prompt, the reply and a re-ask."""
        given = self.settings.model_fields_set
        self.evidence_from_abstract = self.mode in CONSTRAINED
        slots = profile.slots
        if slots and "concurrency" not in given and slots < self.limiter.maximum:
            self.limiter.maximum = self.limiter.limit = slots
            log.info("%s serves %d request(s) at a time: concurrency %d", profile.server, slots, slots)
        if profile.small_context and "prompt_version" not in given:
            self.prompt = load_prompt(self.taxonomy, COMPACT_PROMPT)
            self.prompt_version = self.prompt.version
            self._fixed_body = None
            log.info("%s tokens of context per request: prompt %s", profile.context_per_request, COMPACT_PROMPT)

    # ------------------------------------------------------------------ the request
    def create_kwargs(self, paper: Paper) -> dict[str, Any]:
        """What ``_call`` passes to instructor's ``create`` besides the response model."""
        return {
            "model": self.model,
            "messages": self.prompt.messages(paper),
            "temperature": self.settings.temperature,
            "max_tokens": self.max_tokens,
        }

    def _instructor_mode(self) -> Any:
        import instructor

        return getattr(instructor.Mode, INSTRUCTOR_MODES[self.resolve_mode()])

    def _shape(self, body: dict[str, Any], abstract: str | None) -> dict[str, Any]:
        """``body`` in the server's dialect (``dialects.shaped``), the evidence narrowed to the
        pieces of ``abstract`` where ``evidence_from_abstract``."""
        choices = evidence_choices(abstract) if self.evidence_from_abstract and abstract else None
        return shaped(body, self.mode, choices)

    def _wrap(self) -> Any:
        if self._wrapped_model is None:
            import instructor

            self._wrapped_model = instructor.openai_schema(self.response_model)
        return self._wrapped_model

    def request_body(self, paper: Paper) -> dict[str, Any]:
        """The chat-completions body the online path sends for ``paper`` (its first attempt).

        instructor's own request preparation (``handle_response_model``, the function its
        patched ``create`` runs) adds the tools / response_format to ``create_kwargs``. It is
        run once; when the mode leaves the messages as they are (tools, json_schema) each paper
        then only swaps in its own messages, which is ~50x cheaper than preparing every request.
        """
        if self._fixed_body is None:
            from instructor.processing.response import handle_response_model

            probe = self.create_kwargs(paper)
            _, prepared = handle_response_model(self._wrap(), self._instructor_mode(), **probe)
            if prepared.get("messages") != probe["messages"]:  # a mode that rewrites messages
                return self._shape(prepared, paper.abstract)
            self._fixed_body = {k: v for k, v in prepared.items() if k != "messages"}
            return self._shape({**self._fixed_body, "messages": prepared["messages"]}, paper.abstract)
        return self._shape({**self._fixed_body, "messages": self.prompt.messages(paper)}, paper.abstract)

    def parse_reply(self, paper: Paper, body: Any, price: Any = None) -> Analysis:
        """Validate one chat-completion body (from a batch results file) as ``_call`` would.

        The same response model, validators and reply repairs as online; a reply that
        fails raises ``InvalidOutput`` with the reason. ``price`` (default: the online price)
        turns the reply's usage into a cost.
        """
        from instructor.processing.response import process_response
        from openai.types.chat import ChatCompletion

        usage = Usage(attempts=1)
        if isinstance(body, dict) and isinstance(body.get("usage"), dict):
            raw = body["usage"]
            usage.prompt_tokens = int(raw.get("prompt_tokens") or 0)
            usage.completion_tokens = int(raw.get("completion_tokens") or 0)
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        price = price if price is not None else self.price
        if price is not None:
            usage.cost_usd = price.cost(usage.prompt_tokens, usage.completion_tokens)
        try:
            completion = ChatCompletion.model_validate(body)
        except Exception as exc:
            raise InvalidOutput(f"reply is not a chat completion: {self._message(exc)}", usage) from None
        # The same repairs as online (code fences, <think> blocks, tool calls as text...).
        log = ReplyLog()
        log.expect(self.request_body(paper))
        note = repair_completion(completion, log)
        if note is not None and (note.fatal or note.refusal):
            raise InvalidOutput(note.text, usage)
        token, title_token = _abstract.set(paper.abstract), title_for_tldr.set(paper.title)
        try:
            reply = process_response(
                completion, response_model=self._wrap(), stream=False, strict=True, mode=self._instructor_mode()
            )
        except Exception as exc:  # ValidationError, JSONDecodeError, IncompleteOutputException...
            from instructor.core import IncompleteOutputException

            if isinstance(exc, IncompleteOutputException):
                raise InvalidOutput(f"output truncated at max_tokens={self.max_tokens}", usage) from None
            raise InvalidOutput(f"{validation_failure(exc)}: {self._message(exc)}", usage) from None
        finally:
            _abstract.reset(token)
            title_for_tldr.reset(title_token)
        return _analysis(reply, usage, [usage])

    # ------------------------------------------------------------------ clients
    def _client(self) -> Any:
        if not self._clients:
            import certifi
            import instructor
            import openai

            # Wrapped once: given a plain model, instructor re-wraps it on every call (~2 ms).
            # Done here, not in __init__, so a fully cached run never imports instructor.
            self._wrap()
            mode = self._instructor_mode()
            # One SSL context for all clients: each builds its own otherwise (~45 ms apiece).
            ssl_context = ssl.create_default_context(cafile=certifi.where())
            for http in self._http_clients(ssl_context):
                raw = openai.AsyncOpenAI(
                    api_key=self._secret or "not-needed",  # local servers accept any key
                    base_url=self.base_url,
                    max_retries=0,
                    timeout=self.settings.timeout,
                    http_client=http,
                )
                create = instructor.patch(create=self._poster(raw), mode=mode)
                client = instructor.AsyncInstructor(
                    client=raw, create=create, mode=mode, provider=instructor.Provider.OPENAI
                )
                client.on("completion:kwargs", on_request)
                client.on("completion:response", on_response)
                client.on("completion:error", on_error)
                self._clients.append(client)
        client = self._clients[self._next % len(self._clients)]
        self._next += 1
        return client

    def _http_clients(self, ssl_context: ssl.SSLContext) -> list[Any]:
        """The HTTP clients under the SDK: one aiohttp-backed client, or sharded httpx clients.

        aiohttp (``openai.DefaultAioHttpClient``, from ``openai[aiohttp]``): httpcore + anyio
        were ~26 % of our busy CPU over sockets, aiohttp and its adapter are ~8 % (BENCHMARKS.md,
        1a), and its pool does not degrade with many requests in flight.
        httpx stays available (``http_client="httpx"``) because respx mocks it; one httpx pool
        collapses above ~64 requests in flight (encode/httpx#3215), so calls are spread over
        ceil(concurrency / ``PER_CLIENT``) of them.
        """
        import httpx
        import openai

        conc = self.settings.concurrency
        hooks = {"response": list(self._response_hooks)}
        if self.settings.http_client == "aiohttp":
            try:
                from agent.backends.transport import ReportingAiohttpTransport
            except ImportError:
                raise ConfigError(
                    "http_client=aiohttp needs the aiohttp extra: pip install 'openai[aiohttp]' "
                    "(or set PAPER_AGENT_HTTP_CLIENT=httpx)"
                ) from None
            limits = httpx.Limits(max_connections=conc + 8, max_keepalive_connections=conc + 8)
            transport = ReportingAiohttpTransport(verify=ssl_context, limits=limits)
            return [openai.DefaultAioHttpClient(transport=transport, timeout=self.settings.timeout, event_hooks=hooks)]
        n = max(1, math.ceil(conc / PER_CLIENT))
        limits = httpx.Limits(max_connections=PER_CLIENT * 2, max_keepalive_connections=PER_CLIENT)
        return [
            httpx.AsyncClient(limits=limits, timeout=self.settings.timeout, verify=ssl_context, event_hooks=hooks)
            for _ in range(n)
        ]

    async def aclose(self) -> None:
        for client in self._clients:
            try:
                await client.client.close()
            except Exception:  # closing is best effort
                pass
        self._clients = []

    # ------------------------------------------------------------------ one paper
    async def _call(self, paper: Paper) -> Any:
        client = self._client()
        return await client.chat.completions.create(
            response_model=self._wrapped_model,
            max_retries=reask_policy(self.settings.max_retries),
            **self.create_kwargs(paper),
        )

    def _poster(self, raw: Any) -> Callable[..., Awaitable[Any]]:
        """The create function instructor wraps: ``POST /chat/completions`` through ``raw``.

        The SDK's ``chat.completions.create`` first walks every parameter against its TypedDicts
        (``async_maybe_transform``) to rename aliased keys and format dates and files. Our
        requests carry none of those, so the walk returns the body unchanged, yet it cost about
        a fifth of our CPU per call. The SDK's documented ``client.post`` sends the same body
        with the same headers, retries (none), timeout and error mapping, and parses the same
        ``ChatCompletion``. ``tests/test_llm_backend.py`` checks the walk is still a no-op on
        our requests.
        """

        async def create(**body: Any) -> Any:
            return await self._post(raw, body)

        return create

    async def _post(self, raw: Any, body: dict[str, Any]) -> Any:
        """One HTTP request, holding a limiter slot only while it is on the wire.

        ``--concurrency`` counts requests in flight. Parsing and validating a reply (and
        instructor's re-ask bookkeeping) happen after the slot is released, so with a wave of
        replies the next requests go out without waiting for every reply of the wave to be
        parsed; each re-ask takes a slot of its own.
        """
        import openai
        from openai.types.chat import ChatCompletion

        shaped_body = self._shape(body, _abstract.get())  # before taking a slot: CPU work, not wire time
        async with self.limiter:
            started = time.perf_counter()
            try:
                # A total deadline per request: the SDK's timeout applies per read, so a server
                # that trickles bytes (or a queue behind a busy one) could hold a call for ever.
                async with asyncio.timeout(self.settings.timeout):
                    reply = await raw.post("/chat/completions", body=shaped_body, cast_to=ChatCompletion)
            except (openai.RateLimitError, openai.APITimeoutError, TimeoutError) as exc:
                # A timeout says the server is saturated just as a 429 does: send fewer at once.
                self.limiter.rate_limited()
                if isinstance(exc, TimeoutError):
                    raise timeout_error(self.base_url, self.settings.timeout) from None
                raise
            finally:
                spent = call_seconds_var.get()
                if spent is not None:
                    spent.append(time.perf_counter() - started)
            self.limiter.succeeded()
            return reply

    def _wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        backoff = wait_exponential_jitter(initial=1, max=self.settings.retry_max_wait, jitter=1)(retry_state)
        if exc is None:
            return backoff
        hinted = retry_after_seconds(exc)
        if hinted is not None:
            return min(hinted, self.settings.retry_max_wait)
        return backoff

    def _before_sleep(self, retry_state: Any) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        log.info("retrying after %s (attempt %d)", exc.__class__.__name__ if exc else "?", retry_state.attempt_number)

    async def analyze(self, paper: Paper) -> Analysis:
        from instructor.core import IncompleteOutputException, InstructorRetryException
        from pydantic import ValidationError

        self.resolve_mode()  # before the first request; a ConfigError if no shape works
        attempts: list[Usage] = []
        spent: list[float] = []
        replies = ReplyLog()
        tokens = (attempts_var.set(attempts), _abstract.set(paper.abstract), call_seconds_var.set(spent))
        replies_token = replies_var.set(replies)
        title_token = title_for_tldr.set(paper.title)
        try:
            retrying = AsyncRetrying(
                retry=retry_if_exception(is_transient),
                wait=self._wait,
                stop=stop_after_attempt(self.settings.retry_attempts) | stop_after_delay(self.settings.retry_total),
                sleep=self._sleep,
                before_sleep=self._before_sleep,
                reraise=True,
            )
            try:
                reply: Any = await retrying(self._call, paper)
            except StopCall as stop:
                raise CallFailed(redact(stop.note.text, self._secret), self._usage(attempts, spent)) from None
            except InstructorRetryException as exc:
                cause = _api_error(exc)
                # The note on the last reply names what came back; a call that got no reply
                # at all (the SDK could not read the body) has none.
                note = replies.last if replies.replies == len(attempts) else None
                if note is not None and note.refusal:
                    raise InvalidOutput(redact(note.text, self._secret), self._usage(attempts, spent)) from None
                if cause is not exc and not isinstance(cause, (ValidationError, json.JSONDecodeError, ValueError)):
                    raise CallFailed(self._message(cause), self._usage(attempts, spent)) from None
                what = redact(note.text, self._secret) if note is not None else self._message(cause)
                failed = validation_failure(cause) if note is None else "output failed validation"
                raise InvalidOutput(
                    f"{failed} after {exc.n_attempts} attempt(s): {what}", self._usage(attempts, spent)
                ) from None
            except IncompleteOutputException as exc:
                raise InvalidOutput(
                    f"output truncated at max_tokens={self.max_tokens} (finish_reason length)"
                    + tail(getattr(exc, "last_completion", None)),
                    self._usage(attempts, spent),
                ) from None
            except (InvalidOutput, CallFailed):
                raise
            except Exception as exc:  # openai errors not wrapped, e.g. 401 on the first call
                raise CallFailed(self._message(_api_error(exc)), self._usage(attempts, spent)) from None
        finally:
            attempts_var.reset(tokens[0])
            _abstract.reset(tokens[1])
            call_seconds_var.reset(tokens[2])
            replies_var.reset(replies_token)
            title_for_tldr.reset(title_token)
        return _analysis(reply, self._usage(attempts, spent), attempts)

    def _message(self, exc: BaseException) -> str:
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            text = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}{got(e)}" for e in exc.errors()
            )
        else:
            text = describe_status_error(exc) or f"{exc.__class__.__name__}: {exc}"
            if _is_connection_error(exc):
                text = f"{text.rstrip('.')} (to {urlsplit(self.public_base_url).netloc})"
        text = re.sub(r"\s+", " ", text).strip()
        return redact(text, self._secret)[:500]

    def _usage(self, attempts: list[Usage], spent: list[float]) -> Usage:
        """Tokens and cost summed over every attempt; latency is time inside HTTP calls only."""
        prompt = sum(a.prompt_tokens for a in attempts)
        completion = sum(a.completion_tokens for a in attempts)
        cost = self.price.cost(prompt, completion) if self.price is not None else None
        return Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=prompt + completion,
            attempts=len(attempts),
            latency_ms=round(sum(spent) * 1000, 2),
            cost_usd=cost,
        )
