"""``check_endpoint``: a one-minute diagnosis of an OpenAI-compatible endpoint before a big run.

A first run against a new server fails in ways that look alike (a key, a model name, a mode the
server does not support, a proxy page), so this asks each question separately, on three seed
papers, through the same backend a run uses: is the server reachable, is the key accepted, is
the model listed, and which of tool calling, JSON-schema and plain JSON mode give valid answers.
It measures latency per call and tokens per paper, prices 1,000 papers from the price table and
recommends ``--mode`` and a ``--concurrency`` that stays inside the rate limits the server
announces (``x-ratelimit-*`` headers). Nothing is cached: a diagnosis must reach the endpoint.
The API key never appears in the report.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.dialects import COMPACT_PROMPT, SHAPES, SMALL_CONTEXT, EndpointMemory, EndpointProfile
from agent.backends.quirks import describe_body, snippet
from agent.errors import ConfigError
from agent.schema import Paper, PaperResult
from agent.settings import Settings
from agent.taxonomy import Taxonomy, load_taxonomy

MODES = SHAPES  # best first: json, json_object_schema, tools, json_object
MODE_NAMES = {
    "tools": "tool calling",
    "json": "JSON-schema mode",
    "json_object_schema": "JSON mode with a schema",
    "json_object": "plain JSON mode",
}

SEED_PAPERS = 3
DEFAULT_CONCURRENCY = 8
MAX_RECOMMENDED = 256
# "A one-minute diagnosis": a server that takes requests and never answers must not hold the
# check for 3 x 2 tries x PAPER_AGENT_TIMEOUT (184 s measured). Each call waits at most
# CALL_TIMEOUT, and the whole check stops after CHECK_BUDGET (modes not reached say so).
CALL_TIMEOUT = 15.0
CHECK_BUDGET = 60.0
LOCAL_CALL_TIMEOUT = 40.0  # a local server that says how many requests it serves: a slow model, a queue
LOCAL_BUDGET = 120.0  # ... and the whole check with it
RATE_HEADERS = (
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
)
STATUS_RE = re.compile(r"(?:Error code:|HTTP) (\d{3})")
MESSAGE_RE = re.compile(r"""['"]message['"]: ?['"](.*?)['"](?:,|\})""")


@dataclass
class Step:
    """One line of the report: a question, its answer, and the fix when the answer is no."""

    name: str
    ok: bool | None  # None: could not be told (e.g. the server has no model list)
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = {True: "ok  ", False: "FAIL", None: "??  "}[self.ok]
        tail = f" — {self.fix}" if self.fix and self.ok is not True else ""
        return f"{mark}  {self.name:<12} {self.detail}{tail}"


@dataclass
class ModeResult:
    """How one ``--mode`` did on the seed papers."""

    mode: str
    papers: int
    valid: int
    calls: int
    call_ms: list[float] = field(default_factory=list)
    prompt_tokens: int = 0  # summed over valid papers, re-asks included
    completion_tokens: int = 0
    problem: str | None = None  # one line: what went wrong, with the fix

    @property
    def works(self) -> bool:
        return self.papers > 0 and self.valid == self.papers

    @property
    def tokens_per_paper(self) -> tuple[float, float]:
        n = max(1, self.valid)
        return self.prompt_tokens / n, self.completion_tokens / n

    def step(self) -> Step:
        if self.works:
            prompt, completion = self.tokens_per_paper
            ms = statistics.mean(self.call_ms) if self.call_ms else 0.0
            peak = max(self.call_ms) if self.call_ms else 0.0
            detail = (
                f"{self.valid}/{self.papers} valid · {ms:.0f} ms/call (max {peak:.0f} ms) · "
                f"{prompt + completion:.0f} tokens/paper · {self.calls} call(s)"
            )
            return Step(self.mode, True, detail)
        return Step(self.mode, False, f"{self.valid}/{self.papers} valid: {self.problem}")


@dataclass
class CheckReport:
    """What ``check_endpoint`` found. ``exit_code`` is 0 when some mode works, 1 otherwise."""

    base_url: str
    model: str
    steps: list[Step] = field(default_factory=list)
    modes: list[ModeResult] = field(default_factory=list)
    recommended_mode: str | None = None
    concurrency: int | None = None
    concurrency_basis: str = ""
    cost_per_1000: float | None = None
    cost_note: str = ""
    rate_limits: dict[str, str] = field(default_factory=dict)
    profile: EndpointProfile | None = None
    timeout: float | None = None
    prompt_version: str | None = None

    @property
    def flags(self) -> str:
        """The paper-agent options the report recommends, as one command-line fragment."""
        parts = [f"--mode {self.recommended_mode}", f"--concurrency {self.concurrency}"]
        if self.timeout is not None:
            parts.append(f"--timeout {self.timeout:g}")
        if self.prompt_version is not None:
            parts.append(f"--prompt-version {self.prompt_version}")
        return " ".join(parts)

    @property
    def ok(self) -> bool:
        return any(m.works for m in self.modes)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def failures(self) -> list[str]:
        """Each failed check as one line with its fix."""
        return [s.line() for s in self.steps if s.ok is False]

    def lines(self) -> list[str]:
        out = [f"paper-agent check: {self.base_url}  model {self.model}"]
        out += [step.line() for step in self.steps]
        if self.cost_note:
            out.append(f"cost  {self.cost_note}")
        if self.concurrency_basis:
            out.append(f"rate  {self.concurrency_basis}")
        if self.recommended_mode is not None:
            out.append(f"recommendation: {self.flags}")
            if self.profile is not None and self.profile.mode == self.recommended_mode:
                out.append(
                    f"(--mode auto, the default, picks {self.recommended_mode} here: remembered for this endpoint)"
                )
        else:
            out.append("recommendation: no mode gave valid answers on the seed papers; fix the FAIL lines above")
        return out


# ---------------------------------------------------------------------------- diagnosis


def check_endpoint(
    base_url: str | None = None,
    model: str | None = None,
    mode: str | None = None,
    *,
    api_key: str | None = None,
    prices_file: str | Path | None = None,
    taxonomy: Taxonomy | str | Path | None = None,
    papers: list[Paper] | None = None,
    settings: Settings | None = None,
) -> CheckReport:
    """Diagnose an endpoint: reachability, key, model, each mode on three seed papers, cost, limits.

    Arguments override ``settings`` (default: the environment / ``.env``). ``mode`` checks one
    mode only. Raises ``ConfigError`` for an unknown mode; everything the endpoint does wrong
    is reported, not raised.
    """
    cfg = Settings.load(
        settings, base_url=base_url, model=model, api_key=api_key, prices_file=prices_file, backend="openai"
    )
    if mode is not None and mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
    return asyncio.run(_check(cfg, tax, [mode] if mode else None, papers or seed_papers()))


def seed_papers(n: int = SEED_PAPERS) -> list[Paper]:
    """The first ``n`` papers of the shipped seed dataset."""
    from agent.evaluate.dataset import load_dataset
    from agent.evaluate.runner import default_dataset

    items = load_dataset(default_dataset())[:n]
    return [
        Paper(
            id=i.id, title=i.title, abstract=i.abstract, authors=i.authors, url=i.url, digest_summary=i.digest_summary
        )
        for i in items
    ]


async def _check(cfg: Settings, taxonomy: Taxonomy, modes: list[str] | None, papers: list[Paper]) -> CheckReport:
    from agent.backends.openai import OpenAIBackend
    from agent.redaction import redact

    secret = cfg.api_key.get_secret_value() if cfg.api_key else None
    probe = OpenAIBackend(cfg, taxonomy)  # for the public URL and the price only
    report = CheckReport(base_url=probe.public_base_url, model=cfg.model)
    if not cfg.base_url and not secret:
        report.steps.append(
            Step(
                "endpoint",
                False,
                "no endpoint configured",
                "pass --base-url or set OPENAI_BASE_URL (OPENAI_API_KEY for api.openai.com)",
            )
        )
        return report
    headers: dict[str, str] = {}
    deadline = time.monotonic() + CHECK_BUDGET
    reachable = await _models_step(report, probe.base_url, secret, cfg, headers)
    if reachable and modes is None:
        modes = await _dialect_step(report, probe.base_url, secret, cfg, deadline - time.monotonic())
    cfg, call_timeout = _as_a_run_would(cfg, report.profile)
    if call_timeout == LOCAL_CALL_TIMEOUT:
        deadline += LOCAL_BUDGET - CHECK_BUDGET
    if reachable:
        for m in modes or []:
            result = await _bounded_mode_step(cfg, taxonomy, m, papers, headers, deadline, call_timeout)
            result.problem = redact(result.problem, secret) if result.problem else None
            report.modes.append(result)
            report.steps.append(result.step())
    _recommend(report, probe.price, headers)
    for step in report.steps:
        step.detail = redact(step.detail, secret)
    return report


def _as_a_run_would(cfg: Settings, profile: EndpointProfile | None) -> tuple[Settings, float]:
    """The seed run set up as ``--mode auto`` sets up a run on this server (its slots in flight,
    the compact prompt for a small context), and how long one call may take: a local server
    that names its slots runs a slow model, so it gets longer than a hosted API."""
    if profile is None or not profile.slots:
        return cfg, CALL_TIMEOUT
    update: dict[str, Any] = {"concurrency": profile.slots}
    if profile.context and profile.context < SMALL_CONTEXT and "prompt_version" not in cfg.model_fields_set:
        update["prompt_version"] = COMPACT_PROMPT
    return cfg.model_copy(update=update), LOCAL_CALL_TIMEOUT


async def _dialect_step(report: CheckReport, base: str, secret: str | None, cfg: Settings, budget: float) -> list[str]:
    """Probe which request shapes the server constrains (seconds, not a seed run per mode),
    remember the answer for ``--mode auto``, and return the modes worth a seed run: the best
    constrained one, or plain JSON mode when none is."""
    from agent.backends.probe import probe_endpoint

    timeout = min(cfg.timeout, CALL_TIMEOUT)
    profile = await asyncio.to_thread(probe_endpoint, base, cfg.model, secret, timeout=timeout, budget=budget)
    report.profile = profile
    for v in profile.verdicts:
        # a shape the server does not constrain is no failure while another one works
        ok = True if v.status == "constrained" else (None if profile.mode else False)
        report.steps.append(Step(f"shape {v.shape}", ok, f"{v.status}: {v.detail} ({v.seconds:.1f} s)"))
    if profile.server:
        slots = f", {profile.slots} parallel slot(s)" if profile.slots else ""
        context = f", {profile.context} tokens of context per slot" if profile.context else ""
        report.steps.append(Step("server", True, f"{profile.server}{slots}{context}"))
    if profile.mode is None:
        return ["json_object"]
    EndpointMemory(cfg.cache_dir).put(profile)
    return [profile.mode]


async def _models_step(
    report: CheckReport, base: str, secret: str | None, cfg: Settings, headers: dict[str, str]
) -> bool:
    """GET /models: reachable? key accepted? model listed? False when nothing else can work."""
    import httpx

    auth = {"Authorization": f"Bearer {secret}"} if secret else {}
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=min(cfg.timeout, CALL_TIMEOUT)) as client:
            response = await client.get(f"{base}/models", headers=auth)
    except httpx.TimeoutException:
        report.steps.append(
            Step(
                "reachable",
                False,
                f"no answer from {report.base_url} within {min(cfg.timeout, CALL_TIMEOUT):g} s",
                "is the server running and the address right? check --base-url",
            )
        )
        return False
    except httpx.HTTPError as exc:
        report.steps.append(
            Step(
                "reachable",
                False,
                f"cannot connect to {report.base_url} ({exc.__class__.__name__})",
                "start the server or fix --base-url / OPENAI_BASE_URL",
            )
        )
        return False
    ms = (time.perf_counter() - started) * 1000
    _collect(response.headers, headers)
    report.steps.append(Step("reachable", True, f"GET /models answered {response.status_code} in {ms:.0f} ms"))
    if response.status_code in (401, 403):
        fix = "set OPENAI_API_KEY (or PAPER_AGENT_API_KEY) to a valid key" if secret else "set OPENAI_API_KEY"
        what = "key rejected" if secret else "the endpoint needs a key and none is set"
        report.steps.append(Step("key", False, f"{response.status_code}: {what}", fix))
        return False
    return _model_listed_step(report, response, secret, cfg.model)


def _model_listed_step(report: CheckReport, response: Any, secret: str | None, model: str) -> bool:
    """The key and model steps from a /models answer that was not a 401/403: is ``model`` listed?
    A server without a model list is not a failure (the chat calls will tell), hence True."""
    names = _model_names(response)
    if response.status_code >= 400 or names is None:
        what = (
            f"GET /models answered {response.status_code}"
            if response.status_code >= 400
            else (f"GET /models answered {describe_body(response.text)}")
        )
        report.steps.append(Step("key", None, "not confirmed (no model list to read)"))
        report.steps.append(Step("model", None, f"{what}; the chat calls below tell whether {model!r} works"))
        return True
    report.steps.append(Step("key", True, "accepted" if secret else "none sent; the endpoint answers without one"))
    if model in names:
        report.steps.append(Step("model", True, f"{model!r} is listed"))
    else:
        shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
        report.steps.append(
            Step(
                "model",
                False,
                f"{model!r} is not listed (the server lists: {shown or 'nothing'})",
                "pass --model with a listed name",
            )
        )
    return True


def _model_names(response: Any) -> list[str] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return [str(m.get("id")) for m in items if isinstance(m, dict) and m.get("id")]


async def _bounded_mode_step(
    cfg: Settings,
    taxonomy: Taxonomy,
    mode: str,
    papers: list[Paper],
    headers: dict[str, str],
    deadline: float,
    call_timeout: float = CALL_TIMEOUT,
) -> ModeResult:
    """``_mode_step`` within what is left of the check's budget; out of time is a failed mode."""
    left = deadline - time.monotonic()
    fix = "is the server up and answering? a single call may take up to"
    if left < 1.0:
        problem = f"not tried: the check's {CHECK_BUDGET:g} s were spent on the modes above — {fix} {call_timeout:g} s"
        return ModeResult(mode=mode, papers=len(papers), valid=0, calls=0, problem=problem)
    try:
        return await asyncio.wait_for(_mode_step(cfg, taxonomy, mode, papers, headers, call_timeout), left)
    except TimeoutError:
        problem = f"no valid answer before the check's {CHECK_BUDGET:g} s ran out — {fix} {call_timeout:g} s"
        return ModeResult(mode=mode, papers=len(papers), valid=0, calls=0, problem=problem)


async def _mode_step(
    cfg: Settings,
    taxonomy: Taxonomy,
    mode: str,
    papers: list[Paper],
    headers: dict[str, str],
    call_timeout: float = CALL_TIMEOUT,
) -> ModeResult:
    """The seed papers through the real backend in ``mode``, uncached, all in flight at once."""
    from agent.backends.openai import OpenAIBackend
    from agent.pipeline import Agent

    settings = cfg.model_copy(
        update={
            "mode": mode,
            "concurrency": max(1, min(len(papers), cfg.concurrency)),  # a local server's slots, see _check
            "timeout": min(cfg.timeout, call_timeout),
            "retry_attempts": 2,
            "retry_max_wait": 2.0,
            "retry_total": call_timeout,
        }
    )
    backend = OpenAIBackend(settings, taxonomy, on_response=[_header_recorder(headers)])
    agent = Agent(backend=backend, settings=settings, taxonomy=taxonomy, cache=False)
    try:
        results: list[PaperResult] = list(await asyncio.gather(*(agent.aanalyze(p) for p in papers)))
    finally:
        await backend.aclose()
        agent.close()
    ok = [r for r in results if r.status == "ok"]
    result = ModeResult(
        mode=mode,
        papers=len(results),
        valid=len(ok),
        calls=sum(r.usage.attempts for r in results),
        call_ms=[r.usage.latency_ms / r.usage.attempts for r in results if r.usage.attempts],
        prompt_tokens=sum(r.usage.prompt_tokens for r in ok),
        completion_tokens=sum(r.usage.completion_tokens for r in ok),
    )
    failed = next((r for r in results if r.status != "ok"), None)
    if failed is not None:
        result.problem = diagnose(mode, failed)
    return result


def _header_recorder(sink: dict[str, str]) -> Callable[[Any], Awaitable[None]]:
    """A response hook for the backend that records rate-limit headers of every chat reply, so
    the calls measured are exactly those a run makes (``OpenAIBackend(on_response=...)``)."""

    async def hook(response: Any) -> None:
        _collect(response.headers, sink)

    return hook


def _collect(headers: Any, sink: dict[str, str]) -> None:
    for name in RATE_HEADERS:
        value = headers.get(name)
        if value is not None:
            sink[name] = str(value)


# ---------------------------------------------------------------------------- verdicts


def diagnose(mode: str, result: PaperResult) -> str:
    """One line for a failed paper: the status code or outcome, what came back, and the fix."""
    error = result.error or "no reason given"
    found = STATUS_RE.search(error)
    code = int(found.group(1)) if found else None
    message = MESSAGE_RE.search(error)
    said = snippet(message.group(1), 100) if message else snippet(error, 120)
    others = " or ".join(f"--mode {m}" for m in MODES if m != mode)
    if result.status == "invalid":
        return f"invalid answers: {snippet(error, 160)} — try {others}, or a larger model"
    if code in (401, 403):
        return f"{code}: key rejected — set OPENAI_API_KEY (or PAPER_AGENT_API_KEY) to a valid key"
    if code == 404:
        return f"404: {said} — check --model (and that --base-url ends in /v1)"
    if code == 429:
        return f"429: rate limited or out of quota: {said} — lower --concurrency, or check the account's quota"
    if code in (400, 422, 500) and mode == "tools" and re.search(r"tool|jinja|function", error, re.I):
        return (
            f"{code}: the server rejects tool calling ({said}) — use {others}; or enable tools on the server "
            "(llama.cpp --jinja, vLLM --enable-auto-tool-choice --tool-call-parser ...)"
        )
    if code in (400, 422, 500) and mode != "tools" and re.search(r"response_format|json|schema|grammar", error, re.I):
        return f"{code}: the server rejects {MODE_NAMES[mode]} ({said}) — use {others}"
    if "HTML page" in error or "not JSON" in error:
        return f"{snippet(error, 160)} — check --base-url: something other than the API answered"
    if "APIConnectionError" in error or "APITimeoutError" in error:
        return f"{snippet(error, 120)} — is the server up and answering within the timeout?"
    prefix = f"{code}: " if code else ""
    return f"{prefix}{snippet(error, 160)}"


def _recommend(report: CheckReport, price: Any, headers: dict[str, str]) -> None:
    report.rate_limits = dict(headers)
    working = [m for m in report.modes if m.works]
    if not working:
        return
    # Fewest calls (re-asks) first, then the order of MODES: constrained decoding before prompting.
    best = min(working, key=lambda m: (m.calls, MODES.index(m.mode)))
    report.recommended_mode = best.mode
    prompt, completion = best.tokens_per_paper
    if price is None:
        report.cost_note = (
            f"no price for {report.model!r} in the price table (a local model costs nothing per token); "
            f"{prompt:.0f} prompt + {completion:.0f} completion tokens/paper; --prices FILE to estimate"
        )
    else:
        report.cost_per_1000 = price.cost(round(prompt * 1000), round(completion * 1000))
        report.cost_note = (
            f"${report.cost_per_1000:.2f} per 1,000 papers at {report.model} prices "
            f"({prompt:.0f} prompt + {completion:.0f} completion tokens/paper, --mode {best.mode})"
        )
    latency_s = max(0.05, statistics.mean(best.call_ms) / 1000) if best.call_ms else 1.0
    calls_per_paper = best.calls / max(1, best.papers)
    report.concurrency, report.concurrency_basis = safe_concurrency(
        headers, latency_s, calls_per_paper, prompt + completion
    )
    _recommend_local(report, best, prompt + completion)


def _recommend_local(report: CheckReport, best: ModeResult, tokens_per_paper: float) -> None:
    """For a server that says how many requests it serves at once (a local one): that many in
    flight, a ``--timeout`` with room for a queue of them, and the compact prompt when a slot's
    context would not hold the full prompt plus a re-ask."""
    profile = report.profile
    if profile is None or not profile.slots:
        return
    report.concurrency = profile.slots
    report.concurrency_basis = f"{profile.server} serves {profile.slots} request(s) at a time"
    slowest = max(best.call_ms) / 1000 if best.call_ms else 10.0
    report.timeout = float(max(30, math.ceil(3 * slowest / 10) * 10))
    if profile.context and profile.context < SMALL_CONTEXT and 3 * tokens_per_paper > profile.context:
        report.prompt_version = COMPACT_PROMPT


def safe_concurrency(
    headers: dict[str, str], latency_s: float, calls_per_paper: float, tokens_per_paper: float
) -> tuple[int, str]:
    """Calls in flight that stay at 80% of the announced per-minute limits (Little's law:
    in flight = call rate x latency), or the default when the server announces none."""
    rates: list[tuple[float, str]] = []
    requests = _number(headers.get("x-ratelimit-limit-requests"))
    if requests:
        rates.append((requests / 60, f"x-ratelimit-limit-requests={requests:g}/min"))
    tokens = _number(headers.get("x-ratelimit-limit-tokens"))
    if tokens and tokens_per_paper > 0:
        per_call = tokens_per_paper / max(1.0, calls_per_paper)
        rates.append((tokens / 60 / per_call, f"x-ratelimit-limit-tokens={tokens:g}/min"))
    if not rates:
        return DEFAULT_CONCURRENCY, (
            f"the server sent no x-ratelimit-* headers: start at --concurrency "
            f"{DEFAULT_CONCURRENCY} and raise it while no 429 appears"
        )
    rate, basis = min(rates)
    n = max(1, min(MAX_RECOMMENDED, math.floor(0.8 * rate * latency_s)))
    remaining = _number(headers.get("x-ratelimit-remaining-requests"))
    left = f", {remaining:g} left this minute" if remaining is not None else ""
    return n, f"{basis}{left} at {latency_s * 1000:.0f} ms/call -> safe --concurrency {n} (80% of the limit)"


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def report_json(report: CheckReport) -> str:
    """The report as JSON (for scripts); the key is not in it."""
    from dataclasses import asdict

    return json.dumps({**asdict(report), "ok": report.ok, "exit_code": report.exit_code}, indent=2)
