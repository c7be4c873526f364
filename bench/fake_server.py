"""A fake OpenAI-compatible chat-completions server, stdlib only (asyncio streams, HTTP/1.1).

Used by the fault-injection tests and the benchmarks; also runnable by hand::

    python bench/fake_server.py --port 8765 --latency 1.0
    paper-agent run digest.md --backend openai --base-url http://127.0.0.1:8765/v1 --model fake

``POST /v1/chat/completions`` answers in tools mode (a tool call named after the request's
``tools[0].function.name``) or JSON mode (``response_format`` present: the JSON is the message
content) with a valid ``PaperTriage`` reply: a label picked from the request's own schema enum
by a hash of the title, evidence = the first 6 words of the abstract, a short English TL;DR,
and ``usage`` of about len(request text)/4 prompt tokens and 60-90 completion tokens.

Faults are injected by rate. Each request draws from ``Random(f"{seed}|{title}|{n}")`` where n
is the request's ordinal for that title, so the fate of the n-th request for a paper does not
depend on arrival order. Kinds: ``rate_limit`` (429 + ``Retry-After``), ``server_error``
(500), ``hang`` (sleep ``hang_seconds`` then drop the connection without a reply),
``malformed`` (truncated JSON in the arguments/content), ``invalid`` (valid JSON, ``primary``
"bogus").

Servers differ in what they accept: ``reject_modes`` answers 400 to ``tools`` (as llama.cpp
without ``--jinja`` does), ``json_schema`` or ``json_object`` requests, with the message such a
server sends; ``ratelimit_requests`` / ``ratelimit_tokens`` add OpenAI's ``x-ratelimit-*``
headers to every chat reply; ``models`` is what ``GET /v1/models`` lists. ``paper-agent check``
is tested against these.

Files and Batches (the OpenAI Batch API, in memory): ``POST /v1/files`` (multipart upload),
``GET /v1/files/{id}`` and ``/content``, ``POST /v1/batches``, ``GET /v1/batches[/{id}]``,
``POST /v1/batches/{id}/cancel``. A batch is ``validating`` when created and is run on its
``batch_polls``-th retrieve (``in_progress`` before that) by ``run_batch_lines``, the same
logic ``python bench/fake_server.py --run-batch IN OUT`` applies to a file the way vLLM's
``run_batch`` does: each line answered as a chat request would be (the fault rates apply),
output lines shuffled. ``batch_fate`` "failed" / "expired" makes batches fail validation or
expire with ``batch_done_fraction`` of their lines answered. Batch lines are counted in
``stats()["batch_lines"]``, never as chat requests.

Counters (keyed by paper title): ``requests`` (every POST to chat/completions) and
``successes`` (200 replies with valid output, recorded once the bytes are handed to the
socket). ``GET /stats`` returns the totals as JSON, for a server in another process.

In a test::

    with FakeServer(latency=0.01, rate_429=0.2, seed=1) as server:
        ... Agent(backend="openai", base_url=server.base_url, ...)
        assert max(server.requests.values()) <= 18
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

FAULT_KINDS = ("rate_limit", "server_error", "hang", "malformed", "invalid")
TITLE_RE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
ABSTRACT_RE = re.compile(r"<abstract>(.*?)</abstract>", re.DOTALL)
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
REQUEST_MODES = ("tools", "json_schema", "json_object")
REJECTIONS = {  # what real servers answer when they lack the feature
    "tools": "tools param requires --jinja flag",
    "json_schema": "response_format type 'json_schema' is not supported by this server",
    "json_object": "response_format type 'json_object' is not supported by this server",
}
TLDR = (
    "The paper proposes a method for its stated problem and reports gains over strong baselines on standard benchmarks."
)


# ---------------------------------------------------------------------------- reply content


def request_text(request: dict[str, Any]) -> dict[str, str]:
    """The request's text by part: system prompt, user message(s), the schema sent as tools/format."""
    system = "".join(str(m.get("content") or "") for m in request.get("messages", []) if m.get("role") == "system")
    user = "".join(str(m.get("content") or "") for m in request.get("messages", []) if m.get("role") != "system")
    schema = request.get("tools") or request.get("response_format") or ""
    return {"system": system, "user": user, "schema": json.dumps(schema) if schema else ""}


def paper_key(request: dict[str, Any]) -> tuple[str, str]:
    """(title, abstract) taken from the last user message's <title>/<abstract> fences."""
    user = request_text(request)["user"]
    title = TITLE_RE.search(user)
    abstract = ABSTRACT_RE.search(user)
    return (title.group(1).strip() if title else "<no title>", abstract.group(1).strip() if abstract else "")


def _schema(request: dict[str, Any]) -> tuple[dict[str, Any], str | None, bool]:
    """(JSON schema of the reply, tool name or None, json_mode)."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        return fmt.get("json_schema", {}).get("schema", {}), None, True
    if isinstance(fmt, dict) and isinstance(fmt.get("schema"), dict):  # llama-cpp-python's json_object + schema
        return fmt["schema"], None, True
    tools = request.get("tools") or []
    if tools:
        fn = tools[0].get("function", {})
        return fn.get("parameters", {}), fn.get("name", "PaperTriage"), False
    return {}, None, True


def _labels(schema: dict[str, Any]) -> list[str]:
    prop = schema.get("properties", {}).get("primary", {})
    if "enum" in prop:
        return list(prop["enum"])
    ref = prop.get("$ref") or next((a.get("$ref") for a in prop.get("allOf", []) if "$ref" in a), None)
    if ref:
        target = schema.get("$defs", {}).get(ref.rsplit("/", 1)[-1], {})
        if "enum" in target:
            return list(target["enum"])
    return ["other"]


def label_for(title: str, labels: list[str]) -> str:
    """Deterministic label from the title (stable across runs and processes)."""
    return labels[int(hashlib.sha256(title.encode()).hexdigest(), 16) % len(labels)]


def build_output(request: dict[str, Any], fault: str | None = None) -> tuple[str, str | None, bool]:
    """(arguments/content string, tool name, json_mode) for a 200 reply."""
    schema, tool, json_mode = _schema(request)
    title, abstract = paper_key(request)
    properties = schema.get("properties", {})
    if properties and "primary" not in properties:
        # Another schema (bench/peer.py: daily-arXiv-ai-enhanced's tldr/motivation/method/
        # result/conclusion): one short English sentence per string field.
        # A constrained server: an enum field gets one of its values (so the probe of
        # agent.backends.dialects finds every shape constrained here).
        return (
            json.dumps({name: p["enum"][0] if "enum" in p else f"{name}: {TLDR}" for name, p in properties.items()}),
            tool,
            json_mode,
        )
    labels = _labels(schema)
    obj: dict[str, Any] = {
        "primary": label_for(title, labels),
        "secondary": [],
        "confidence": 0.8,
        "evidence": " ".join(abstract.split()[:6]) or "n/a",
        "tldr": TLDR,
    }
    if fault == "invalid":
        obj["primary"] = "bogus"
    text = json.dumps(obj)
    if fault == "malformed":
        text = text[: len(text) // 2]
    return text, tool, json_mode


def build_completion(request: dict[str, Any], fault: str | None = None, ident: int = 0) -> dict[str, Any]:
    """A ``chat.completion`` body for ``request`` (fault: None, "malformed" or "invalid")."""
    text, tool, json_mode = build_output(request, fault)
    parts = request_text(request)
    prompt_tokens = max(1, sum(len(v) for v in parts.values()) // 4)
    completion_tokens = max(60, min(90, len(text) // 4))
    if json_mode:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        finish = "stop"
    else:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": f"call_{ident}", "type": "function", "function": {"name": tool, "arguments": text}}],
        }
        finish = "tool_calls"
    return {
        "id": f"chatcmpl-{ident}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def request_mode(request: dict[str, Any]) -> str:
    """``tools``, ``json_schema`` or ``json_object``: the structured-output feature a request uses."""
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_schema", "json_object"):
        return str(fmt["type"])
    return "tools" if request.get("tools") else "json_object"


def _error(message: str, kind: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


# ---------------------------------------------------------------------------- batch engine


def _batch_fault(seed: int, title: str, rates: dict[str, float]) -> str | None:
    u = random.Random(f"{seed}|batch|{title}").random()
    acc = 0.0
    for kind in FAULT_KINDS:
        acc += rates.get(kind, 0.0)
        if u < acc:
            return kind
    return None


def run_batch_lines(
    lines: list[bytes],
    *,
    seed: int = 0,
    rates: dict[str, float] | None = None,
    done: int | None = None,
    expired_code: str = "batch_expired",
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(output lines, error lines) for OpenAI-batch-format request lines, as an engine returns them.

    The first ``done`` requests (default: all) are answered; the rest get ``expired_code``.
    Output lines are shuffled (engines return them in completion order).
    """
    rates = rates or {}
    outputs: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for n, raw in enumerate(lines):
        req = json.loads(raw)
        custom_id = req.get("custom_id")
        ident = f"batch_req_{n}"
        if done is not None and n >= done:
            errors.append(
                {
                    "id": ident,
                    "custom_id": custom_id,
                    "response": None,
                    "error": {
                        "code": expired_code,
                        "message": "This request could not be executed before the batch ended.",
                    },
                }
            )
            continue
        body = req.get("body") or {}
        title, _ = paper_key(body)
        fault = _batch_fault(seed, title, rates)
        if fault in ("rate_limit", "server_error", "hang"):
            errors.append(
                {
                    "id": ident,
                    "custom_id": custom_id,
                    "error": None,
                    "response": {
                        "status_code": 500,
                        "request_id": f"req_{n}",
                        "body": json.loads(_error("internal error (fake server)", "server_error")),
                    },
                }
            )
            continue
        outputs.append(
            {
                "id": ident,
                "custom_id": custom_id,
                "error": None,
                "response": {"status_code": 200, "request_id": f"req_{n}", "body": build_completion(body, fault, n)},
            }
        )
    random.Random(seed).shuffle(outputs)
    return outputs, errors


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) for a multipart/form-data body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    if not msg.is_multipart():
        return fields
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


# ---------------------------------------------------------------------------- server


class FakeServer:
    """The server on 127.0.0.1 in a background thread (or the foreground with ``serve_forever``)."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        spread: float = 0.0,
        seed: int = 0,
        rate_429: float = 0.0,
        rate_500: float = 0.0,
        rate_hang: float = 0.0,
        rate_malformed: float = 0.0,
        rate_invalid: float = 0.0,
        retry_after: float = 0.05,
        hang_seconds: float = 2.0,
        host: str = "127.0.0.1",
        port: int = 0,
        on_request: Callable[[dict[str, Any]], None] | None = None,
        reject_modes: tuple[str, ...] | list[str] = (),
        ratelimit_requests: int | None = None,
        ratelimit_tokens: int | None = None,
        models: tuple[str, ...] | list[str] = ("fake",),
        batch_polls: int = 1,
        batch_fate: str = "completed",
        batch_done_fraction: float = 0.0,
    ) -> None:
        rates = [rate_429, rate_500, rate_hang, rate_malformed, rate_invalid]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and sum to at most 1")
        self.latency, self.spread, self.seed = latency, spread, seed
        self.rates = dict(zip(FAULT_KINDS, rates))
        self.retry_after, self.hang_seconds = retry_after, hang_seconds
        self.host, self.port = host, port
        self.on_request = on_request  # called with each parsed chat request (in the server thread)
        unknown = set(reject_modes) - set(REQUEST_MODES)
        if unknown:
            raise ValueError(f"reject_modes: unknown mode(s) {sorted(unknown)}; use {REQUEST_MODES}")
        self.reject_modes = tuple(reject_modes)
        self.ratelimit_requests, self.ratelimit_tokens = ratelimit_requests, ratelimit_tokens
        self.models = tuple(models)
        self.batch_polls, self.batch_fate, self.batch_done_fraction = batch_polls, batch_fate, batch_done_fraction
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._batch_lines = 0
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._successes: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._ident = 0
        self._first_request_at: float | None = None
        self._last_success_at: float | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._gate: asyncio.Event | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ counters
    @property
    def requests(self) -> dict[str, int]:
        """Chat-completion requests received, per paper title (a snapshot)."""
        with self._lock:
            return dict(self._requests)

    @property
    def successes(self) -> dict[str, int]:
        """200 replies with valid output sent, per paper title (a snapshot)."""
        with self._lock:
            return dict(self._successes)

    @property
    def faults(self) -> dict[str, int]:
        """Injected faults by kind (a snapshot)."""
        with self._lock:
            return dict(self._faults)

    @property
    def total_requests(self) -> int:
        with self._lock:
            return sum(self._requests.values())

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": sum(self._requests.values()),
                "papers": len(self._requests),
                "successes": sum(self._successes.values()),
                "faults": dict(self._faults),
                "max_in_flight": self.max_in_flight,
                "batch_lines": self._batch_lines,
                "cpu_s": time.process_time(),  # the server process's CPU so far (benchmarks)
                # time.monotonic() of the first chat request and of the last good reply since
                # the last reset: the run as the endpoint saw it, client start-up excluded
                "first_request_at": self._first_request_at,
                "last_success_at": self._last_success_at,
            }

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._successes.clear()
            self._faults.clear()
            self.max_in_flight = self.in_flight
            self._first_request_at = self._last_success_at = None

    def wait_for(self, predicate: Callable[[FakeServer], bool], timeout: float = 30.0, poll: float = 0.005) -> bool:
        """Poll ``predicate(self)`` until true or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(poll)
        return predicate(self)

    # ------------------------------------------------------------------ hold replies
    def pause(self) -> None:
        """Hold every reply not yet sent; held requests are dropped (no reply) on ``resume``."""
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.clear)
            time.sleep(0.01)

    def resume(self) -> None:
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)
            time.sleep(0.01)

    # ------------------------------------------------------------------ Files and Batches
    def _batch_api(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes, None]:
        parts = path.rstrip("/").split("/")
        i = max(k for k, part in enumerate(parts) if part in ("files", "batches"))
        kind, rest = parts[i], parts[i + 1 :]

        def ok(obj: Any) -> tuple[int, dict[str, str], bytes, None]:
            return 200, {}, obj if isinstance(obj, bytes) else json.dumps(obj).encode(), None

        def missing(what: str) -> tuple[int, dict[str, str], bytes, None]:
            return 404, {}, _error(f"No such {what}: {'/'.join(rest)}", "invalid_request_error"), None

        with self._lock:
            if kind == "files" and method == "POST" and not rest:
                fields = _multipart(headers.get("content-type", ""), body)
                if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
                    return (
                        400,
                        {},
                        _error("expected multipart fields file and purpose=batch", "invalid_request_error"),
                        None,
                    )
                ident = f"file-{len(self.files) + 1:06d}"
                meta = {
                    "id": ident,
                    "object": "file",
                    "bytes": len(fields["file"][1]),
                    "created_at": int(time.time()),
                    "filename": fields["file"][0] or "upload.jsonl",
                    "purpose": "batch",
                    "status": "processed",
                }
                self.files[ident] = (meta, fields["file"][1])
                return ok(meta)
            if kind == "files" and method == "GET" and rest:
                if rest[0] not in self.files:
                    return missing("file")
                meta, data = self.files[rest[0]]
                return ok(data if rest[1:] == ["content"] else meta)
            if kind == "batches" and method == "POST" and not rest:
                req = json.loads(body or b"{}")
                if req.get("input_file_id") not in self.files:
                    return 400, {}, _error("input_file_id not found", "invalid_request_error"), None
                ident = f"batch_{len(self.batches) + 1:06d}"
                now = int(time.time())
                self.batches[ident] = {
                    "id": ident,
                    "object": "batch",
                    "endpoint": req.get("endpoint"),
                    "errors": None,
                    "input_file_id": req["input_file_id"],
                    "completion_window": req.get("completion_window", "24h"),
                    "status": "validating",
                    "output_file_id": None,
                    "error_file_id": None,
                    "created_at": now,
                    "expires_at": now + 86400,
                    "request_counts": {"total": 0, "completed": 0, "failed": 0},
                    "metadata": req.get("metadata"),
                    "_polls": 0,
                }
                return ok(self._public_batch(self.batches[ident]))
            if kind == "batches" and method == "GET" and not rest:
                data = [self._public_batch(b) for b in reversed(list(self.batches.values()))]
                return ok({"object": "list", "data": data, "first_id": None, "last_id": None, "has_more": False})
            if kind == "batches" and rest and rest[0] in self.batches:
                batch = self.batches[rest[0]]
                if method == "POST" and rest[1:] == ["cancel"]:
                    if batch["status"] in ("validating", "in_progress"):
                        batch["status"] = "cancelling"
                        batch["cancelling_at"] = int(time.time())
                    return ok(self._public_batch(batch))
                if method == "GET" and not rest[1:]:
                    self._advance(batch)
                    return ok(self._public_batch(batch))
            return missing("batch" if kind == "batches" else "file")

    @staticmethod
    def _public_batch(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _advance(self, batch: dict[str, Any]) -> None:
        """One retrieve: a batch runs (all at once) on its ``batch_polls``-th retrieve."""
        if batch["status"] in ("completed", "failed", "expired", "cancelled"):
            return
        batch["_polls"] += 1
        lines = [ln for ln in self.files[batch["input_file_id"]][1].splitlines() if ln.strip()]
        total = len(lines)
        batch["request_counts"]["total"] = total
        now = int(time.time())
        if batch["status"] == "cancelling":
            self._finish(batch, lines, int(total * self.batch_done_fraction), "cancelled", "batch_cancelled")
            batch["cancelled_at"] = now
            return
        bad = None
        for n, raw in enumerate(lines, 1):
            try:
                req = json.loads(raw)
                if req.get("url") != batch["endpoint"] or "custom_id" not in req:
                    bad = {
                        "code": "invalid_request",
                        "message": "url must match the batch endpoint; custom_id is required",
                        "line": n,
                    }
            except ValueError:
                bad = {"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.", "line": n}
            if bad:
                break
        if bad is None and self.batch_fate == "failed":
            bad = {
                "code": "token_limit_exceeded",
                "message": "Enqueued token limit reached (fake server)",
                "line": None,
            }
        if bad is not None:
            batch.update(status="failed", failed_at=now, errors={"object": "list", "data": [bad]})
            return
        if batch["_polls"] < self.batch_polls:
            batch["status"] = "in_progress"
            batch.setdefault("in_progress_at", now)
            batch["request_counts"]["completed"] = total * batch["_polls"] // max(1, self.batch_polls)
            return
        if self.batch_fate == "expired":
            self._finish(batch, lines, int(total * self.batch_done_fraction), "expired", "batch_expired")
            batch["expired_at"] = now
        else:
            self._finish(batch, lines, None, "completed", "batch_expired")
            batch["completed_at"] = now

    def _finish(self, batch: dict[str, Any], lines: list[bytes], done: int | None, status: str, code: str) -> None:
        outputs, errors = run_batch_lines(lines, seed=self.seed, rates=self.rates, done=done, expired_code=code)
        self._batch_lines += len(lines) if done is None else done
        for kind, rows in (("output", outputs), ("error", errors)):
            if rows:
                ident = f"file-{len(self.files) + 1:06d}"
                data = _jsonl(rows)
                self.files[ident] = (
                    {
                        "id": ident,
                        "object": "file",
                        "bytes": len(data),
                        "created_at": int(time.time()),
                        "filename": f"{batch['id']}_{kind}.jsonl",
                        "purpose": f"batch_{kind}",
                    },
                    data,
                )
                batch[f"{kind}_file_id"] = ident
        batch["status"] = status
        batch["request_counts"] = {"total": len(lines), "completed": len(outputs), "failed": len(errors)}

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._run_thread, name="fake-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        if self._error is not None:
            raise RuntimeError(f"fake server failed: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surface start-up failures to start()
            self._error = exc
            self._ready.set()

    def serve_forever(self, announce: Callable[[str], None] = print) -> None:
        """Run in the foreground until SIGINT/SIGTERM (the standalone mode)."""
        asyncio.run(self._main(announce, handle_signals=True))

    async def _main(self, announce: Callable[[str], None] | None = None, handle_signals: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._gate = asyncio.Event()
        self._gate.set()
        server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024, reuse_address=True)
        self.port = server.sockets[0].getsockname()[1]
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._loop.add_signal_handler(sig, self._stop.set)
        self._ready.set()
        if announce is not None:
            announce(f"fake OpenAI server listening on {self.base_url}")
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await server.wait_closed()

    # ------------------------------------------------------------------ HTTP/1.1
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                try:
                    if headers.get("transfer-encoding", "").lower() == "chunked":
                        body = await self._read_chunked(reader)
                    else:
                        n = int(headers.get("content-length") or 0)
                        body = await reader.readexactly(n) if n else b""
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    return
                keep_alive = version.strip() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                path = target.split("?", 1)[0]
                if "/files" in path or "/batches" in path:
                    reply = self._batch_api(method, path, body, headers)
                else:
                    reply = await self._dispatch(method, path, body)
                if reply is None:  # a hang, or a reply held by pause(): drop the connection
                    return
                status, extra, payload, on_sent = reply
                head_lines = [
                    f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
                    "Content-Type: application/json",
                    f"Content-Length: {len(payload)}",
                    "Connection: " + ("keep-alive" if keep_alive else "close"),
                ] + [f"{k}: {v}" for k, v in extra.items()]
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + payload)
                try:
                    await writer.drain()
                except ConnectionError:
                    return
                if on_sent is not None:
                    on_sent()
                if not keep_alive:
                    return
        except asyncio.CancelledError:
            pass
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def _dispatch(
        self, method: str, path: str, body: bytes
    ) -> tuple[int, dict[str, str], bytes, Callable[[], None] | None] | None:
        if method == "GET" and path.rstrip("/").endswith("/stats"):
            return 200, {}, json.dumps(self.stats()).encode(), None
        if method == "POST" and path.rstrip("/").endswith("/stats/reset"):
            self.reset()
            return 200, {}, b"{}", None
        if method == "GET" and path.rstrip("/").endswith("/models"):
            data = [{"id": name, "object": "model"} for name in self.models]
            return 200, {}, json.dumps({"object": "list", "data": data}).encode(), None
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            return 404, {}, _error(f"no route for {method} {path}", "invalid_request_error"), None
        try:
            request = json.loads(body)
            title, _ = paper_key(request)
        except (ValueError, AttributeError, TypeError):
            return 400, {}, _error("request body is not a JSON chat request", "invalid_request_error"), None
        if self.on_request is not None:
            self.on_request(request)
        if request_mode(request) in self.reject_modes:
            return 400, {}, _error(REJECTIONS[request_mode(request)], "invalid_request_error"), None
        with self._lock:
            if self._first_request_at is None:
                self._first_request_at = time.monotonic()
            self._requests[title] += 1
            n = self._requests[title]
            self._ident += 1
            ident = self._ident
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            rng = random.Random(f"{self.seed}|{title}|{n}")
            u = rng.random()
            fault = None
            acc = 0.0
            for kind in FAULT_KINDS:
                acc += self.rates[kind]
                if u < acc:
                    fault = kind
                    break
            delay = max(0.0, self.latency + (rng.uniform(-self.spread, self.spread) if self.spread else 0.0))
            if fault is not None:
                with self._lock:
                    self._faults[fault] += 1
            if fault == "rate_limit":
                return (
                    429,
                    {"Retry-After": f"{self.retry_after:g}"},
                    _error("Rate limit reached (fake server)", "requests", "rate_limit_exceeded"),
                    None,
                )
            if fault == "server_error":
                await asyncio.sleep(min(delay, 0.01))
                return 500, {}, _error("internal error (fake server)", "server_error"), None
            if fault == "hang":
                await asyncio.sleep(self.hang_seconds)
                return None
            if delay:
                await asyncio.sleep(delay)
            assert self._gate is not None
            if not self._gate.is_set():
                await self._gate.wait()
                return None  # held by pause(): never answered
            payload = json.dumps(build_completion(request, fault, ident)).encode()
            on_sent = None if fault else (lambda: self._record_success(title))
            return 200, self._ratelimit_headers(), payload, on_sent
        finally:
            with self._lock:
                self.in_flight -= 1

    def _ratelimit_headers(self) -> dict[str, str]:
        """OpenAI's per-minute limits, with ``remaining`` counting this server's requests."""
        headers: dict[str, str] = {}
        used = self.total_requests
        if self.ratelimit_requests is not None:
            headers["x-ratelimit-limit-requests"] = str(self.ratelimit_requests)
            headers["x-ratelimit-remaining-requests"] = str(max(0, self.ratelimit_requests - used))
            headers["x-ratelimit-reset-requests"] = "60s"
        if self.ratelimit_tokens is not None:
            headers["x-ratelimit-limit-tokens"] = str(self.ratelimit_tokens)
            headers["x-ratelimit-remaining-tokens"] = str(self.ratelimit_tokens)
        return headers

    def _record_success(self, title: str) -> None:
        with self._lock:
            self._successes[title] += 1
            self._last_success_at = time.monotonic()


# ---------------------------------------------------------------------------- standalone


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Fake OpenAI-compatible chat-completions server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--latency", type=float, default=0.0, help="mean seconds per reply")
    p.add_argument("--spread", type=float, default=0.0, help="+/- uniform seconds around the mean")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate-429", type=float, default=0.0)
    p.add_argument("--rate-500", type=float, default=0.0)
    p.add_argument("--rate-hang", type=float, default=0.0)
    p.add_argument("--rate-malformed", type=float, default=0.0)
    p.add_argument("--rate-invalid", type=float, default=0.0)
    p.add_argument("--retry-after", type=float, default=0.05)
    p.add_argument("--hang-seconds", type=float, default=2.0)
    p.add_argument(
        "--reject-mode",
        action="append",
        default=[],
        choices=REQUEST_MODES,
        help="answer 400 to requests using this structured-output mode (repeatable)",
    )
    p.add_argument("--ratelimit-requests", type=int, default=None, help="send x-ratelimit-*-requests headers")
    p.add_argument("--ratelimit-tokens", type=int, default=None, help="send x-ratelimit-*-tokens headers")
    p.add_argument("--model", action="append", default=[], help="a name GET /v1/models lists (default: fake)")
    p.add_argument(
        "--run-batch",
        nargs=2,
        metavar=("REQUESTS", "RESULTS"),
        help="answer an OpenAI-batch-format request file offline (like vLLM's run_batch) and exit",
    )
    a = p.parse_args(argv)
    if a.run_batch:
        rates = dict(zip(FAULT_KINDS, [a.rate_429, a.rate_500, a.rate_hang, a.rate_malformed, a.rate_invalid]))
        with open(a.run_batch[0], "rb") as f:
            outputs, errors = run_batch_lines([ln for ln in f if ln.strip()], seed=a.seed, rates=rates)
        with open(a.run_batch[1], "wb") as f:
            f.write(_jsonl(outputs + errors))
        print(f"{len(outputs)} ok, {len(errors)} failed -> {a.run_batch[1]}", file=sys.stderr)
        return
    server = FakeServer(
        latency=a.latency,
        spread=a.spread,
        seed=a.seed,
        rate_429=a.rate_429,
        rate_500=a.rate_500,
        rate_hang=a.rate_hang,
        rate_malformed=a.rate_malformed,
        rate_invalid=a.rate_invalid,
        retry_after=a.retry_after,
        hang_seconds=a.hang_seconds,
        host=a.host,
        port=a.port,
        reject_modes=a.reject_mode,
        ratelimit_requests=a.ratelimit_requests,
        ratelimit_tokens=a.ratelimit_tokens,
        models=a.model or ("fake",),
    )
    server.serve_forever(lambda line: print(line, flush=True))
    print(json.dumps(server.stats()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
