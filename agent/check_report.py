"""What ``paper-agent check`` reports: its steps, each mode's result on the seed papers, and the
verdicts drawn from them (a one-line diagnosis per failure, the flags to recommend).

Kept apart from ``agent.check`` (which asks the endpoint) so the report and its rules read on
their own and are tested without a server.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from agent.backends.base import CONTENT_RULE
from agent.backends.dialects import COMPACT_PROMPT, SHAPES, EndpointProfile
from agent.backends.quirks import snippet
from agent.schema import PaperResult

MODES = SHAPES  # best first: json, json_object_schema, tools, json_object
MODE_NAMES = {
    "tools": "tool calling",
    "json": "JSON-schema mode",
    "json_object_schema": "JSON mode with a schema",
    "json_object": "plain JSON mode",
}
DEFAULT_CONCURRENCY = 8
MAX_RECOMMENDED = 256
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
    prompt_tokens: int = 0  # summed over well-formed answers, re-asks included
    completion_tokens: int = 0
    problem: str | None = None  # one line: what went wrong, with the fix
    # answers ``invalid`` only for a content rule (CONTENT_RULE: e.g. a small model's TL;DR
    # that restates the title): they had the reply schema's shape
    broke_rule: int = 0

    @property
    def well_formed(self) -> int:
        """Answers with the reply schema's shape: the valid ones and those that broke only a rule."""
        return self.valid + self.broke_rule

    @property
    def works(self) -> bool:
        """Every answer had the schema's shape: the server constrains this mode. Whether the
        model's answers are good is the run's and the eval's to say, not the check's."""
        return self.papers > 0 and self.well_formed == self.papers

    @property
    def tokens_per_paper(self) -> tuple[float, float]:
        n = max(1, self.well_formed)
        return self.prompt_tokens / n, self.completion_tokens / n

    def step(self) -> Step:
        if self.works:
            prompt, completion = self.tokens_per_paper
            ms = statistics.mean(self.call_ms) if self.call_ms else 0.0
            peak = max(self.call_ms) if self.call_ms else 0.0
            broke = self.broke_rule
            rule = f" ({broke} broke a content rule: {self.problem})" if broke and self.problem else ""
            detail = (
                f"{self.valid}/{self.papers} valid{rule} · {ms:.0f} ms/call (max {peak:.0f} ms) · "
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


# ---------------------------------------------------------------------------- verdicts


def diagnose(mode: str, result: PaperResult) -> str:
    """One line for a failed paper: the status code or outcome, what came back, and the fix."""
    error = result.error or "no reason given"
    found = STATUS_RE.search(error)
    code = int(found.group(1)) if found else None
    message = MESSAGE_RE.search(error)
    said = snippet(message.group(1), 100) if message else snippet(error, 120)
    others = " or ".join(f"--mode {m}" for m in MODES if m != mode)
    if result.status == "invalid" and error.startswith(CONTENT_RULE):
        what = snippet(error.split(": ", 1)[-1].replace("Value error, ", ""), 120)
        return f"the answers broke a content rule ({what}) — the server constrains the mode; a larger model does better"
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


def recommend(report: CheckReport, price: Any, headers: dict[str, str]) -> None:
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
    per_request = profile.context_per_request
    if per_request and profile.small_context and 3 * tokens_per_paper > per_request:
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
