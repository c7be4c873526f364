"""Bulk triage on an existing engine: the OpenAI Batch API, and request files any engine runs.

Every request is the chat-completions body the online path would send for the paper (built by
``OpenAIBackend.request_body``, i.e. instructor's own request preparation), one JSONL line
``{"custom_id", "method", "url", "body"}``. ``custom_id`` is ``<arXiv id>:<cache key prefix>``,
and a *manifest* next to every request file maps it to the full cache key and the paper, with a
header holding the settings that built it (model, mode, prompt, taxonomy, key components).
Results are validated by ``OpenAIBackend.parse_reply`` (same response model and validators as
online) and stored in the same cache, so a later ``paper-agent run`` on those papers is free.

- ``batch_submit``: request files split at the API limits (50,000 lines, 200 MB), each written
  with its manifest and a local record under ``<cache dir>/batches/<local id>/`` *before* it is
  uploaded; the record is updated after the upload and after the batch is created, and the
  batch carries the local id in its metadata, so a crash at any point loses nothing.
- ``batch_status`` / ``batch_list`` / ``batch_cancel``: the API's view, saved in the records.
- ``batch_collect``: downloads output and error files once, then reads them (any order, lines
  missing or repeated): every paper of the batch ends ``ok``, ``invalid`` or ``error``, exactly
  once. A cached result is never rewritten, so collecting twice changes nothing.
- ``batch_export`` / ``batch_import``: the same request file for vLLM's ``run_batch`` or any
  OpenAI-batch-format engine, and its results file back into the cache and an output.
- ``triage_batch``: submit, wait, collect, write: what ``paper-agent run --batch`` does.

The API key is only ever in the HTTP client: request files, manifests and records hold the
base URL without credentials, and error messages are redacted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.base import InvalidOutput
from agent.errors import BatchError, BatchNotReady, ConfigError, PaperAgentError
from agent.inputs import expand_paths, iter_papers, refuse_output_among_inputs
from agent.outputs import make_writer, resolve_format
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult, Usage
from agent.settings import Settings

log = logging.getLogger("agent.bulk")

ENDPOINT = "/v1/chat/completions"
MAX_LINES = 50_000  # OpenAI: requests per batch
MAX_BYTES = 200 * 1024 * 1024  # OpenAI: bytes per batch input file
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "expired", "cancelled")
EST_COMPLETION_TOKENS = 80  # for the cost estimate before results exist (measured: 62)
MANIFEST_KIND = "paper-agent-batch-manifest"

NEXT_STEP = {
    "failed": "nothing ran and nothing is charged; fix the problem shown and run `paper-agent batch submit` again",
    "expired": "it ran out of its 24 h window; the papers without a result are listed as error: "
    "run `paper-agent batch submit` on the same inputs again (cached papers are skipped), or collect with --repair",
    "cancelled": "the papers without a result are listed as error: run `paper-agent batch submit` on the same "
    "inputs again (cached papers are skipped), or collect with --repair",
}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- manifests


def manifest_path_for(requests: str | Path) -> Path:
    """``requests.jsonl`` -> ``requests.manifest.jsonl`` (same folder)."""
    p = Path(requests)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".manifest.jsonl")


def _openai_backend(agent: Agent) -> Any:
    from agent.backends.openai import OpenAIBackend

    if not isinstance(agent.backend, OpenAIBackend):
        raise ConfigError(
            "bulk triage needs an LLM backend: set OPENAI_API_KEY or OPENAI_BASE_URL, or pass --backend openai"
        )
    if agent.cache is None:
        raise ConfigError("bulk triage stores its results in the cache: drop --no-cache")
    return agent.backend


def _header(agent: Agent, **extra: Any) -> dict[str, Any]:
    backend = _openai_backend(agent)
    s = agent.settings
    return {
        "kind": MANIFEST_KIND,
        "v": 1,
        "created_at": _now(),
        "model": backend.model,
        "base_url": backend.public_base_url,
        "mode": s.mode,
        "temperature": s.temperature,
        "max_tokens": s.max_tokens,
        "max_retries": s.max_retries,
        "prompt_version": backend.prompt_version,
        "taxonomy": json.loads(agent.taxonomy.canonical_json),
        "taxonomy_tag": agent.taxonomy.tag,
        "components": agent.key_components,
        **extra,
    }


class Manifest:
    """custom_id -> (cache key, paper) for one request file; papers are read from disk on demand."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._index: dict[str, tuple[int, str]] = {}
        try:
            with self.path.open("rb") as f:
                first = f.readline()
                try:
                    self.header = json.loads(first)
                except ValueError:
                    self.header = None
                if not isinstance(self.header, dict) or self.header.get("kind") != MANIFEST_KIND:
                    raise BatchError(f"{self.path}: not a paper-agent batch manifest")
                offset = len(first)
                for lineno, line in enumerate(f, 2):
                    try:
                        entry = json.loads(line)
                        self._index[entry["custom_id"]] = (offset, entry["key"])
                    except (ValueError, KeyError, TypeError):
                        raise BatchError(f"{self.path}:{lineno}: manifest line is damaged") from None
                    offset += len(line)
        except OSError as exc:
            raise BatchError(f"{self.path}: cannot read the batch manifest ({exc.strerror or exc})") from None

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, custom_id: object) -> bool:
        return custom_id in self._index

    def key(self, custom_id: str) -> str:
        return self._index[custom_id][1]

    def keys(self) -> Iterator[str]:
        return (key for _, key in self._index.values())

    def paper(self, custom_id: str) -> Paper:
        offset, _ = self._index[custom_id]
        with self.path.open("rb") as f:
            f.seek(offset)
            return Paper.model_validate(json.loads(f.readline())["paper"])

    def __iter__(self) -> Iterator[tuple[str, str, Paper]]:
        """(custom_id, key, paper) in the order the requests were written."""
        with self.path.open("rb") as f:
            f.readline()
            for line in f:
                entry = json.loads(line)
                yield entry["custom_id"], entry["key"], Paper.model_validate(entry["paper"])

    def agent(self, settings: Settings | None = None) -> Agent:
        """An Agent configured exactly as the one that built these requests (checked by key)."""
        from agent.taxonomy import Taxonomy

        h = self.header
        base = settings or Settings()
        base_url = base.base_url
        if base_url is None or _public(base_url) != h["base_url"]:
            base_url = h["base_url"]  # the environment points elsewhere: use the recorded endpoint
        try:
            taxonomy = Taxonomy.model_validate(h["taxonomy"])
        except Exception:
            raise BatchError(f"{self.path}: the manifest's taxonomy is damaged") from None
        agent = Agent(
            backend="openai",
            model=h["model"],
            base_url=base_url,
            mode=h["mode"],
            temperature=h["temperature"],
            max_tokens=h["max_tokens"],
            max_retries=h.get("max_retries"),
            prompt_version=h["prompt_version"],
            taxonomy=taxonomy,
            settings=base,
        )
        mine = agent.key_components
        differ = sorted(k for k in set(mine) | set(h["components"]) if mine.get(k) != h["components"].get(k))
        if differ:
            agent.close()
            raise BatchError(
                f"{self.path}: these requests were built with a different {', '.join(differ)} than this "
                "paper-agent has (prompt files or version changed?): their results would not match the cache"
            )
        return agent


def _public(url: str) -> str:
    import re

    return re.sub(r"(?<=://)[^/@]*@", "", url.rstrip("/"))


# ---------------------------------------------------------------------------- building requests


@dataclass
class BuildCounts:
    """What happened to the input papers while request files were built."""

    requests: int = 0
    cached: int = 0
    skipped: int = 0  # no abstract
    pending: int = 0  # already in an open batch
    bytes: int = 0


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _LineEncoder:
    """One JSONL request line per paper; what every request shares is encoded once.

    The body is ``backend.request_body(paper)``; when that is the shared part plus the paper's
    messages (tools and json_schema modes), the shared part and the system message are JSON
    encoded once instead of per paper (they are ~70 % of each line).
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._fixed: str | None = None
        self._system: dict[str, str] = {}

    def __call__(self, custom_id: str, paper: Paper) -> bytes:
        body = self.backend.request_body(paper)
        fixed = self.backend._fixed_body
        if not fixed or set(body) != set(fixed) | {"messages"}:
            line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
            return (_dumps(line) + "\n").encode()
        if self._fixed is None:
            self._fixed = _dumps(fixed)[1:-1]
        messages = ",".join(self._message(m) for m in body["messages"])
        return (
            f'{{"custom_id":{_dumps(custom_id)},"method":"POST","url":"{ENDPOINT}",'
            f'"body":{{{self._fixed},"messages":[{messages}]}}}}\n'
        ).encode()

    def _message(self, message: dict[str, str]) -> str:
        if message.get("role") != "system":
            return _dumps(message)
        content = message.get("content", "")
        if content not in self._system:
            self._system = {content: _dumps(message)}  # one system prompt per run: keep the last
        return self._system[content]


def _request_lines(
    agent: Agent, papers: Iterable[Paper], counts: BuildCounts, exclude: set[str] | frozenset[str] = frozenset()
) -> Iterator[tuple[str, str, Paper, bytes]]:
    backend = _openai_backend(agent)
    encode = _LineEncoder(backend)
    for paper in papers:
        if not paper.abstract.strip():
            counts.skipped += 1
            continue
        key = agent.cache_key(paper)
        if agent.cache is not None and not agent.refresh and agent.cache.get(key) is not None:
            counts.cached += 1
            continue
        if key in exclude:
            counts.pending += 1
            continue
        custom_id = f"{paper.id}:{key[:24]}"  # unique: iter_papers drops repeated ids
        yield custom_id, key, paper, encode(custom_id, paper)


class _FilePair:
    """A request file and its manifest, written through ``.partial`` names and renamed on close."""

    def __init__(self, requests: Path, manifest: Path, header: dict[str, Any]) -> None:
        self.requests, self.manifest = requests, manifest
        self._req_tmp = requests.with_name(requests.name + ".partial")
        self._man_tmp = manifest.with_name(manifest.name + ".partial")
        try:
            self._req = self._req_tmp.open("wb")
            self._man = self._man_tmp.open("wb")
        except OSError as exc:
            from agent.errors import OutputError

            raise OutputError(f"{requests}: cannot write the request file ({exc.strerror or exc})") from None
        self._header = header
        self._sha = hashlib.sha256()
        self.lines = 0
        self.bytes = 0
        self.est_prompt_tokens = 0

    def add(self, custom_id: str, key: str, paper: Paper, data: bytes) -> None:
        self._req.write(data)
        self._sha.update(data)
        entry = {"custom_id": custom_id, "key": key, "paper": paper.model_dump(mode="json", exclude_none=True)}
        self._man.write((_dumps(entry) + "\n").encode())
        self.lines += 1
        self.bytes += len(data)
        self.est_prompt_tokens += len(data) // 4

    def close(self) -> None:
        self._req.close()
        self._man.close()
        header = dict(
            self._header,
            requests=self.lines,
            bytes=self.bytes,
            sha256=self._sha.hexdigest(),
            est_prompt_tokens=self.est_prompt_tokens,
        )
        # The header goes first: rewrite the manifest with it (streamed, constant memory).
        final_tmp = self.manifest.with_name(self.manifest.name + ".tmp")
        with final_tmp.open("wb") as out, self._man_tmp.open("rb") as body:
            out.write((json.dumps(header, ensure_ascii=False) + "\n").encode())
            while chunk := body.read(1 << 20):
                out.write(chunk)
        os.replace(final_tmp, self.manifest)
        self._man_tmp.unlink()
        os.replace(self._req_tmp, self.requests)
        self.header = header

    def abort(self) -> None:
        for f in (self._req, self._man):
            f.close()
        for p in (self._req_tmp, self._man_tmp):
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- local records


@dataclass
class BatchRecord:
    """One submitted (or submitting) batch: ``record.json`` in its own folder with the files."""

    dir: Path
    data: dict[str, Any]

    @property
    def local_id(self) -> str:
        return self.data["local_id"]

    @property
    def batch_id(self) -> str | None:
        return self.data.get("batch_id")

    @property
    def status(self) -> str:
        return self.data.get("status", "unknown")

    @property
    def requests_path(self) -> Path:
        return self.dir / "requests.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.jsonl"

    @property
    def counts(self) -> dict[str, int]:
        return self.data.get("request_counts") or {"total": self.data.get("requests", 0), "completed": 0, "failed": 0}

    def save(self) -> None:
        _atomic_write(self.dir / "record.json", json.dumps(self.data, indent=2, ensure_ascii=False))

    def update_from(self, batch: dict[str, Any]) -> None:
        """Keep the API's view of the batch (state, counts, file ids, errors, times)."""
        keep = (
            "status",
            "output_file_id",
            "error_file_id",
            "request_counts",
            "created_at",
            "in_progress_at",
            "expires_at",
            "finalizing_at",
            "completed_at",
            "failed_at",
            "expired_at",
            "cancelling_at",
            "cancelled_at",
        )
        for name in keep:
            if batch.get(name) is not None:
                self.data["remote_" + name if name == "created_at" else name] = batch[name]
        errors = (batch.get("errors") or {}).get("data") or []
        if errors:
            self.data["errors"] = [
                {k: e.get(k) for k in ("code", "message", "line", "param") if e.get(k) is not None} for e in errors
            ]
        self.data["checked_at"] = _now()

    def age_s(self) -> float:
        created = self.data.get("created_ts") or time.time()
        return max(0.0, time.time() - created)

    def estimated_cost(self) -> float | None:
        """USD at the batch price: actual once collected, else from request sizes."""
        if self.data.get("cost_usd") is not None:
            return self.data["cost_usd"]
        price = self.data.get("batch_price")
        if not price:
            return None
        completion = self.data.get("requests", 0) * EST_COMPLETION_TOKENS
        return round((self.data.get("est_prompt_tokens", 0) * price[0] + completion * price[1]) / 1e6, 6)

    def next_step(self) -> str | None:
        if self.status in NEXT_STEP:
            why = "; ".join(
                f"{e.get('code', 'error')}: {e.get('message', '')}" + (f" (line {e['line']})" if e.get("line") else "")
                for e in self.data.get("errors", [])
            )
            return (
                f"batch {self.batch_id or self.local_id} {self.status}"
                + (f" ({why})" if why else "")
                + ": "
                + NEXT_STEP[self.status]
            )
        if self.status == "uploaded" and not self.batch_id:
            return (
                f"batch {self.local_id} was uploaded but creating it failed ({self.data.get('error', 'interrupted')}): "
                "`paper-agent batch list` finds it if it was created after all; `batch submit` again if not"
            )
        if self.status in ("built", "not_submitted"):
            why = self.data.get("error", "interrupted")
            return f"batch {self.local_id} was never submitted ({why}): run `paper-agent batch submit` again"
        return None


class RecordStore:
    """The local batch records: ``<cache dir>/batches/<local id>/record.json``."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = Path(cache_dir) / "batches"

    def new(self, data: dict[str, Any]) -> BatchRecord:
        local_id = f"pa_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"
        folder = self.root / local_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise ConfigError(f"{folder}: cannot create the batch record ({exc.strerror or exc})") from None
        return BatchRecord(folder, {"local_id": local_id, "created_at": _now(), "created_ts": time.time(), **data})

    def all(self) -> list[BatchRecord]:
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            try:
                data = json.loads((folder / "record.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a folder being created, or damaged: skipped
            out.append(BatchRecord(folder, data))
        return sorted(out, key=lambda r: r.data.get("created_ts", 0))

    def find(self, ident: str) -> BatchRecord:
        for record in self.all():
            if ident in (record.local_id, record.batch_id):
                return record
        raise BatchError(
            f"unknown batch {ident!r}: no record in {self.root} (`paper-agent batch list` shows the known ones)"
        )

    def pending_keys(self) -> set[str]:
        """Cache keys of papers in batches still running or finished but not yet collected."""
        keys: set[str] = set()
        for record in self.all():
            if record.data.get("collected_at") or record.status not in ACTIVE + ("completed",):
                continue
            try:
                keys.update(Manifest(record.manifest_path).keys())
            except BatchError:
                continue
        return keys


# ---------------------------------------------------------------------------- the API


class BatchAPI:
    """Files and Batches endpoints through the openai SDK, with tenacity retries on 429/5xx."""

    def __init__(
        self, settings: Settings, base_url: str | None = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.settings = settings
        self.base_url = (base_url or settings.base_url or "https://api.openai.com/v1").rstrip("/")
        self._secret = settings.api_key.get_secret_value() if settings.api_key else None
        self._sleep = sleep
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                api_key=self._secret or "not-needed",
                base_url=self.base_url,
                max_retries=0,
                timeout=max(self.settings.timeout, 120.0),
            )
        return self._client

    def _call(self, what: str, fn: Callable[[], Any], *, retry_timeouts: bool = True) -> Any:
        import openai
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        from agent.backends.openai import is_transient, redact

        def transient(exc: BaseException) -> bool:
            # Creating a batch twice would pay twice: only retry a create the server refused.
            return is_transient(exc) and (retry_timeouts or isinstance(exc, openai.APIStatusError))

        try:
            return Retrying(
                retry=retry_if_exception(transient),
                wait=wait_exponential_jitter(initial=1, max=self.settings.retry_max_wait, jitter=1),
                stop=stop_after_attempt(self.settings.retry_attempts),
                sleep=self._sleep,
                reraise=True,
            )(fn)
        except openai.NotFoundError as exc:
            raise BatchError(
                f"{what}: not found at {_public(self.base_url)} ({redact(str(exc), self._secret)[:200]})"
            ) from None
        except openai.APIError as exc:
            text = redact(f"{exc.__class__.__name__}: {exc}", self._secret)
            raise BatchError(f"{what} failed at {_public(self.base_url)}: {' '.join(text.split())[:300]}") from None

    def upload(self, path: Path) -> str:
        with path.open("rb") as f:
            return self._call(
                f"uploading {path.name}", lambda: self.client.files.create(file=(path.name, f), purpose="batch")
            ).id

    def create(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        batch = self._call(
            "creating the batch",
            lambda: self.client.batches.create(
                input_file_id=input_file_id, endpoint=ENDPOINT, completion_window="24h", metadata=metadata
            ),
            retry_timeouts=False,
        )
        return batch.model_dump()

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        return self._call(f"batch {batch_id}", lambda: self.client.batches.retrieve(batch_id)).model_dump()

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return self._call(f"cancelling batch {batch_id}", lambda: self.client.batches.cancel(batch_id)).model_dump()

    def recent(self, limit: int = 100) -> list[dict[str, Any]]:
        page = self._call("listing batches", lambda: self.client.batches.list(limit=limit))
        return [b.model_dump() for b in page.data]

    def download(self, file_id: str, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".partial")

        def fetch() -> None:
            with self.client.with_streaming_response.files.content(file_id) as response, tmp.open("wb") as f:
                for chunk in response.iter_bytes():
                    f.write(chunk)

        self._call(f"downloading file {file_id}", fetch)
        os.replace(tmp, dest)


_APIS: dict[tuple[Any, ...], BatchAPI] = {}


def _api_for(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> BatchAPI:
    """The API client for a record's endpoint; one per endpoint and settings (a client costs ~130 ms)."""
    if api is not None:
        return api
    base = settings.base_url
    if base is None or _public(base) != record.data.get("base_url"):
        base = record.data.get("base_url")
    ident = (base, settings.api_key, settings.timeout, settings.retry_attempts, settings.retry_max_wait)
    if ident not in _APIS:
        _APIS[ident] = BatchAPI(settings, base)
    return _APIS[ident]


# ---------------------------------------------------------------------------- submit, status, cancel


@dataclass
class SubmitReport:
    records: list[BatchRecord]
    counts: BuildCounts

    @property
    def batch_ids(self) -> list[str]:
        return [r.batch_id or r.local_id for r in self.records]


def batch_submit(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    input_format: str | None = None,
    max_per_batch: int | None = None,
    max_bytes: int = MAX_BYTES,
    api: BatchAPI | None = None,
) -> SubmitReport:
    """Build, upload and create Batch-API jobs for every paper in ``inputs`` not already cached.

    Papers already in an open (running or uncollected) batch are not sent again.
    """
    backend = _openai_backend(agent)
    if agent.settings.api_key is None and agent.settings.base_url is None:
        raise ConfigError(
            "no Batch API endpoint configured: set OPENAI_API_KEY (or OPENAI_BASE_URL for another service)"
        )
    limit = min(max_per_batch or MAX_LINES, MAX_LINES)
    if limit < 1:
        raise ConfigError("--max-papers-per-batch must be at least 1")
    store = RecordStore(agent.settings.cache_dir)
    api = api or BatchAPI(agent.settings, backend.base_url)
    _reconcile(store.all(), agent.settings, api)  # a batch created by a run that died is still open
    batch_price = backend.price.batch() if backend.price is not None else None
    counts = BuildCounts()
    inputs = list(inputs)
    lines = _request_lines(agent, iter_papers(inputs, input_format), counts, store.pending_keys())
    sources = [str(Path(p).resolve()) for p in inputs]
    records: list[BatchRecord] = []
    pending = next(lines, None)
    while pending is not None:
        record = store.new(
            {
                "status": "built",
                "inputs": sources,
                "model": backend.model,
                "base_url": backend.public_base_url,
                "mode": agent.settings.mode,
                "batch_price": [batch_price.input, batch_price.output] if batch_price else None,
            }
        )
        pair = _FilePair(record.requests_path, record.manifest_path, _header(agent, local_id=record.local_id))
        try:
            while (
                pending is not None
                and pair.lines < limit
                and (not pair.lines or pair.bytes + len(pending[3]) <= max_bytes)
            ):
                pair.add(*pending)
                pending = next(lines, None)
            pair.close()
        except BaseException:
            pair.abort()
            raise
        counts.requests += pair.lines
        counts.bytes += pair.bytes
        record.data.update(requests=pair.lines, bytes=pair.bytes, est_prompt_tokens=pair.est_prompt_tokens)
        record.save()  # before anything leaves the machine
        try:
            record.data["input_file_id"] = api.upload(record.requests_path)
            record.data["status"] = "uploaded"
            record.save()
            batch = api.create(record.data["input_file_id"], {"paper_agent_id": record.local_id})
        except (PaperAgentError, KeyboardInterrupt) as exc:
            # A failed create may still have created the batch (a timeout after the server
            # acted): the record stays "uploaded" until `batch list` / the next submit looks.
            status = "uploaded" if record.status == "uploaded" else "not_submitted"
            record.data.update(status=status, error=str(exc) or exc.__class__.__name__)
            record.save()
            raise
        record.data["batch_id"] = batch["id"]
        record.update_from(batch)
        record.save()
        records.append(record)
    return SubmitReport(records, counts)


def _refresh(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> BatchRecord:
    if record.batch_id and (record.status in ACTIVE or record.status == "uploaded"):
        record.update_from(_api_for(record, settings, api).retrieve(record.batch_id))
        record.save()
    return record


def batch_status(
    ids: Iterable[str] = (), *, settings: Settings | None = None, api: BatchAPI | None = None
) -> list[BatchRecord]:
    """The named batches (default: every one not yet collected), refreshed from the API while running."""
    settings = settings or Settings()
    store = RecordStore(settings.cache_dir)
    ids = list(ids)
    records = [store.find(i) for i in ids] if ids else [r for r in store.all() if not r.data.get("collected_at")]
    return [_refresh(r, settings, api) for r in records]


def batch_list(*, settings: Settings | None = None, api: BatchAPI | None = None) -> list[BatchRecord]:
    """Every local record, refreshed; a batch created but never recorded (a crash) is found by its metadata."""
    settings = settings or Settings()
    records = RecordStore(settings.cache_dir).all()
    _reconcile(records, settings, api)
    return [_refresh(r, settings, api) for r in records]


def _reconcile(records: list[BatchRecord], settings: Settings, api: BatchAPI | None) -> None:
    """Uploaded but no batch id (died or failed while creating it): find the batch by its metadata."""
    orphans = [r for r in records if r.status == "uploaded" and not r.batch_id]
    if not orphans:
        return
    remote = {(b.get("metadata") or {}).get("paper_agent_id"): b for b in _api_for(orphans[0], settings, api).recent()}
    for record in orphans:
        found = remote.get(record.local_id)
        if found is not None:
            record.data["batch_id"] = found["id"]
            record.update_from(found)
        else:
            record.data["status"] = "not_submitted"
        record.save()


def batch_cancel(ident: str, *, settings: Settings | None = None, api: BatchAPI | None = None) -> BatchRecord:
    settings = settings or Settings()
    record = RecordStore(settings.cache_dir).find(ident)
    if not record.batch_id:
        raise BatchError(f"batch {ident} was never submitted: nothing to cancel")
    record.update_from(_api_for(record, settings, api).cancel(record.batch_id))
    record.save()
    return record


# ---------------------------------------------------------------------------- results -> cache


@dataclass
class Outcome:
    status: str  # ok | invalid | error
    error: str | None = None
    usage: Usage | None = None


@dataclass
class CollectReport:
    """What a collect or import did: counts, the papers that failed and why, next steps."""

    stats: RunStats = field(default_factory=RunStats)
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (paper id, status, reason)
    notes: list[str] = field(default_factory=list)
    records: list[BatchRecord] = field(default_factory=list)
    repaired: int = 0


def _read_results(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        f = path.open("rb")
    except OSError as exc:
        raise BatchError(f"{path}: cannot read the results file ({exc.strerror or exc})") from None
    with f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                if not isinstance(line, dict):
                    raise ValueError
            except ValueError:
                log.warning("%s:%d: not a JSON object: line skipped", path, lineno)
                continue
            yield lineno, line


def _line_error(line: dict[str, Any]) -> str | None:
    """None for a 200 response, else the reason the engine gives."""
    response = line.get("response") or {}
    error = line.get("error")
    if isinstance(error, dict) and (error.get("message") or error.get("code")):
        return f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    if error:
        return str(error)
    status = response.get("status_code")
    if status == 200 and isinstance(response.get("body"), dict):
        return None
    body = response.get("body") if isinstance(response.get("body"), dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else {}
    return f"HTTP {status}: {inner.get('message') or 'no reply body'}" if status else "no response in the result line"


def _ingest(agent: Agent, manifest: Manifest, files: Iterable[Path], outcomes: dict[str, Outcome]) -> None:
    """Read result lines into ``outcomes`` (by cache key) and ok results into the cache.

    Lines may come in any order, repeat, or name unknown ids; an ``ok`` outcome is final, and a
    key already in the cache is never rewritten (collecting twice changes nothing).
    """
    backend = agent.backend
    price = backend.price.batch() if backend.price is not None else None
    from agent.backends.openai import redact

    secret = agent.settings.api_key.get_secret_value() if agent.settings.api_key else None
    for path in files:
        for lineno, line in _read_results(path):
            custom_id = line.get("custom_id")
            if custom_id not in manifest:
                log.warning(
                    "%s:%d: custom_id %r is not in %s: line skipped", path, lineno, custom_id, manifest.path.name
                )
                continue
            key = manifest.key(custom_id)
            known = outcomes.get(key)
            if known is not None and known.status == "ok":
                continue
            problem = _line_error(line)
            if problem is not None:
                if known is None:
                    outcomes[key] = Outcome("error", redact(f"batch: {problem}", secret)[:500])
                continue
            paper = manifest.paper(custom_id)
            try:
                analysis = backend.parse_reply(paper, line["response"]["body"], price)
            except InvalidOutput as bad:
                outcomes[key] = Outcome("invalid", f"batch: {bad}", bad.usage)
                continue
            outcomes[key] = Outcome("ok", usage=analysis.usage)
            if agent.cache.get(key) is None:
                result = agent.result_for(
                    paper,
                    primary=analysis.primary,
                    secondary=analysis.secondary,
                    confidence=analysis.confidence,
                    tldr=analysis.tldr,
                    evidence=analysis.evidence,
                    usage=analysis.usage,
                )
                agent.cache.set(key, result, analysis.attempts, agent.key_components)


def _result_for(
    agent: Agent, paper: Paper, key: str, outcome: Outcome | None, missing: str, repaired: dict[str, PaperResult]
) -> PaperResult:
    if outcome is not None and outcome.status == "skipped":
        return agent.result_for(paper, status="skipped", error=outcome.error)
    if key in repaired:
        return repaired[key]
    hit = agent.cache.get(key)
    if hit is not None:
        hit.id, hit.url, hit.title, hit.authors = paper.id, paper.url, paper.title, paper.authors
        hit.cached = outcome is None or outcome.status != "ok"  # this batch's own results are new
        return hit
    if outcome is None:
        return agent.result_for(paper, status="error", error=missing)
    return agent.result_for(paper, status=outcome.status, error=outcome.error, usage=outcome.usage or Usage())


def _repair(agent: Agent, papers: list[tuple[str, Paper]]) -> dict[str, PaperResult]:
    """Re-ask failed papers online (normal retries and validation re-asks), by cache key."""
    if not papers:
        return {}
    return {key: result for (key, _), result in zip(papers, agent.analyze_many([p for _, p in papers]))}


def _missing_reason(record: BatchRecord | None) -> str:
    if record is None:
        return "no result line for this request in the results file"
    if record.status == "failed":
        return f"batch {record.batch_id} failed before running: " + "; ".join(
            e.get("message", "") for e in record.data.get("errors", [])
        )
    return f"batch {record.batch_id} {record.status}: no result for this request"


def _write(
    agent: Agent,
    items: Iterable[tuple[str, Paper, Outcome | None, str]],
    repaired: dict[str, PaperResult],
    output: str | Path | None,
    fmt: str,
    report: CollectReport,
) -> None:
    writer = make_writer(fmt, output, agent.taxonomy, None)
    try:
        for key, paper, outcome, missing in items:
            result = _result_for(agent, paper, key, outcome, missing, repaired)
            writer.write(result)
            report.stats.add(result)
            if result.status in ("invalid", "error"):
                report.problems.append((paper.id, result.status, result.error or ""))
    except BaseException:
        writer.close()
        raise
    writer.close()


def _collect_files(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> list[Path]:
    files = []
    for kind in ("output", "error"):
        file_id = record.data.get(f"{kind}_file_id")
        if not file_id:
            continue
        dest = record.dir / f"{kind}.jsonl"
        if not dest.exists():  # downloaded once; a second collect reads the same bytes
            _api_for(record, settings, api).download(file_id, dest)
        files.append(dest)
    return files


def batch_collect(
    ids: Iterable[str],
    *,
    settings: Settings | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    repair: bool = False,
    api: BatchAPI | None = None,
) -> CollectReport:
    """Download, validate and cache the results of finished batches; write them like ``run``."""
    settings = settings or Settings()
    store = RecordStore(settings.cache_dir)
    records = [_refresh(store.find(i), settings, api) for i in ids]
    if not records:
        raise BatchError("name at least one batch id (`paper-agent batch list` shows them)")
    running = [r for r in records if r.status not in TERMINAL]
    if running:
        r = running[0]
        c = r.counts
        raise BatchNotReady(
            f"batch {r.batch_id or r.local_id} is {r.status} "
            f"({c.get('completed', 0) + c.get('failed', 0)}/{c.get('total', 0)} done): "
            "collect it again later, or `paper-agent batch status` to watch it"
        )
    report = CollectReport(records=records)
    parts = []
    for record in records:
        manifest = Manifest(record.manifest_path)
        agent = manifest.agent(settings)
        outcomes: dict[str, Outcome] = {}
        _ingest(agent, manifest, _collect_files(record, settings, api), outcomes)
        parts.append((record, manifest, agent, outcomes))
        note = record.next_step()
        if note:
            report.notes.append(note)
    try:
        repaired: dict[str, PaperResult] = {}
        if repair:
            for _, manifest, agent, outcomes in parts:
                todo = [
                    (key, paper)
                    for _, key, paper in manifest
                    if (outcomes.get(key) is None or outcomes[key].status != "ok") and agent.cache.get(key) is None
                ]
                repaired.update(_repair(agent, todo))
            report.repaired = len(repaired)

        def items() -> Iterator[tuple[str, Paper, Outcome | None, str]]:
            for record, manifest, _, outcomes in parts:
                for _, key, paper in manifest:
                    yield key, paper, outcomes.get(key), _missing_reason(record)

        _write(parts[0][2], items(), repaired, output, fmt, report)
        for record, manifest, _agent, outcomes in parts:
            tally = {s: 0 for s in ("ok", "invalid", "error")}
            cost = 0.0
            for key in manifest.keys():
                o = outcomes.get(key)
                tally[o.status if o else "error"] += 1
                if o is not None and o.usage is not None and o.usage.cost_usd is not None:
                    cost += o.usage.cost_usd
            record.data.update(outcome=tally, cost_usd=round(cost, 6) if record.data.get("batch_price") else None)
            record.data.setdefault("collected_at", _now())
            record.save()
    finally:
        for _, _, agent, _ in parts:
            agent.close()
    report.stats.finish()
    return report


# ---------------------------------------------------------------------------- export / import


@dataclass
class ExportReport:
    requests: Path
    manifest: Path
    counts: BuildCounts


def batch_export(
    inputs: Iterable[str | Path], agent: Agent, output: str | Path, *, input_format: str | None = None
) -> ExportReport:
    """Write one OpenAI-batch-format request file (and its manifest) for the uncached papers."""
    output = Path(output)
    counts = BuildCounts()
    stream = _request_lines(agent, iter_papers(inputs, input_format), counts)
    first = next(stream, None)  # a bad input path fails before any file is created
    pair = _FilePair(output, manifest_path_for(output), _header(agent))
    try:
        if first is not None:
            pair.add(*first)
        for item in stream:
            pair.add(*item)
        pair.close()
    except BaseException:
        pair.abort()
        raise
    counts.requests, counts.bytes = pair.lines, pair.bytes
    return ExportReport(output, pair.manifest, counts)


def batch_import(
    results: str | Path | Iterable[str | Path],
    requests: str | Path,
    *,
    manifest: str | Path | None = None,
    settings: Settings | None = None,
    output: str | Path | None = None,
    fmt: str | None = None,
    repair: bool = False,
) -> CollectReport:
    """Validate an engine's results file(s) against the requests they answer; cache and write them.

    ``results`` may be several files (the Batch API's output and error files, or an engine's
    shards); every request in the manifest ends ``ok``, ``invalid`` or ``error`` exactly once.
    """
    requests = Path(requests)
    files = [Path(results)] if isinstance(results, (str, Path)) else [Path(r) for r in results]
    man = Manifest(manifest or manifest_path_for(requests))
    sha = hashlib.sha256()
    try:
        with requests.open("rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
    except OSError as exc:
        raise BatchError(f"{requests}: cannot read the request file ({exc.strerror or exc})") from None
    if sha.hexdigest() != man.header.get("sha256"):
        raise BatchError(f"{requests}: does not match its manifest {man.path.name} (edited after export?)")
    for path in files:
        if not path.is_file():
            raise BatchError(f"{path}: no such results file")
    agent = man.agent(settings)
    report = CollectReport()
    try:
        outcomes: dict[str, Outcome] = {}
        _ingest(agent, man, files, outcomes)
        repaired: dict[str, PaperResult] = {}
        if repair:
            repaired = _repair(
                agent,
                [
                    (key, paper)
                    for _, key, paper in man
                    if (outcomes.get(key) is None or outcomes[key].status != "ok") and agent.cache.get(key) is None
                ],
            )
            report.repaired = len(repaired)
        missing = f"no result line for this request in {', '.join(p.name for p in files)}"
        _write(
            agent, ((key, paper, outcomes.get(key), missing) for _, key, paper in man), repaired, output, fmt, report
        )
    finally:
        agent.close()
    report.stats.finish()
    return report


# ---------------------------------------------------------------------------- run --batch


def batch_wait(
    records: list[BatchRecord],
    *,
    settings: Settings,
    poll: float = 30.0,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[int, int, list[BatchRecord]], None] | None = None,
) -> list[BatchRecord]:
    """Poll until every batch is completed, failed, expired or cancelled."""
    while True:
        records = [_refresh(r, settings, api) for r in records]
        done = sum(r.counts.get("completed", 0) + r.counts.get("failed", 0) for r in records)
        total = sum(r.counts.get("total", 0) or r.data.get("requests", 0) for r in records)
        if on_progress is not None:
            on_progress(done, total, records)
        if all(r.status in TERMINAL for r in records):
            return records
        sleep(poll)


def triage_batch(
    inputs: Iterable[str | Path],
    agent: Agent,
    *,
    output: str | Path | None = None,
    fmt: str | None = None,
    input_format: str | None = None,
    poll: float = 30.0,
    repair: bool = False,
    max_per_batch: int | None = None,
    api: BatchAPI | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_submit: Callable[[SubmitReport], None] | None = None,
    on_progress: Callable[[int, int, list[BatchRecord]], None] | None = None,
) -> CollectReport:
    """``paper-agent run --batch``: submit the uncached papers, wait, collect, write all results in input order."""
    inputs = list(inputs)
    # The same checks as ``run`` before anything is sent (and paid for): the format, and an
    # output that is also an input.
    resolve_format(fmt, output)
    refuse_output_among_inputs(expand_paths(inputs), output)
    submitted = batch_submit(inputs, agent, input_format=input_format, max_per_batch=max_per_batch, api=api)
    if on_submit is not None:
        on_submit(submitted)
    records = batch_wait(
        submitted.records, settings=agent.settings, poll=poll, api=api, sleep=sleep, on_progress=on_progress
    )
    report = CollectReport(records=records)
    outcomes: dict[str, Outcome] = {}
    reasons: dict[str, str] = {}
    for record in records:
        manifest = Manifest(record.manifest_path)
        _ingest(agent, manifest, _collect_files(record, agent.settings, api), outcomes)
        for key in manifest.keys():
            reasons[key] = _missing_reason(record)
        record.data.setdefault("collected_at", _now())
        record.save()
        note = record.next_step()
        if note:
            report.notes.append(note)
    repaired: dict[str, PaperResult] = {}
    if repair:
        todo = [(agent.cache_key(p), p) for p in iter_papers(inputs, input_format) if p.abstract.strip()]
        repaired = _repair(agent, [(k, p) for k, p in todo if k in reasons and agent.cache.get(k) is None])
        report.repaired = len(repaired)

    def items() -> Iterator[tuple[str, Paper, Outcome | None, str]]:
        for paper in iter_papers(inputs, input_format):
            key = agent.cache_key(paper)
            if not paper.abstract.strip():
                where = f" ({paper.source_file}:{paper.source_line})" if paper.source_file else ""
                yield key, paper, Outcome("skipped", f"no abstract{where}"), ""
            else:
                yield key, paper, outcomes.get(key), reasons.get(key, "not submitted: already in another open batch")

    _write(agent, items(), repaired, output, fmt, report)
    report.stats.finish()
    return report
