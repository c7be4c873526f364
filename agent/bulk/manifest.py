"""Request files and their manifests: the bottom layer of bulk triage.

Every request is the chat-completions body the online path would send for the paper
(``BatchCapable.request_body``), one JSONL line ``{"custom_id", "method", "url", "body"}``.
``custom_id`` is ``<arXiv id>:<cache key prefix>``, and a *manifest* next to every request file
maps it to the full cache key and the paper, with a header holding the settings that built it
(model, mode, prompt, taxonomy, key components), so results can only ever be stored under the
cache keys of the settings that asked for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.backends.base import BatchCapable
from agent.errors import BatchError, ConfigError, OutputError
from agent.pipeline import Agent
from agent.redaction import strip_url_credentials
from agent.schema import Paper
from agent.settings import Settings
from agent.taxonomy import Taxonomy

ENDPOINT = "/v1/chat/completions"
MAX_LINES = 50_000  # OpenAI: requests per batch
MAX_BYTES = 200 * 1024 * 1024  # OpenAI: bytes per batch input file
MANIFEST_KIND = "paper-agent-batch-manifest"


def utc_now() -> str:
    """The time stamp every bulk file and record uses (UTC, to the second)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def public_url(url: str) -> str:
    """``url`` without credentials (``https://user:token@host/v1/`` -> ``https://host/v1``).

    Request files, manifests and records hold endpoints in this form, so none of them ever
    holds a secret that was put in the URL.
    """
    return strip_url_credentials(url.rstrip("/"))


def dumps(value: Any) -> str:
    """Compact JSON as written to request files (the Batch API counts bytes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def manifest_path_for(requests: str | Path) -> Path:
    """``requests.jsonl`` -> ``requests.manifest.jsonl`` (same folder)."""
    p = Path(requests)
    stem = p.name[: -len(".jsonl")] if p.name.endswith(".jsonl") else p.name
    return p.with_name(stem + ".manifest.jsonl")


def batch_backend(agent: Agent) -> BatchCapable:
    """The agent's backend, checked to be one whose requests can go through a file.

    Results are only useful in the cache (that is how a later ``run`` reuses them), so an agent
    without a cache is refused here too, before anything is built or sent.
    """
    if not isinstance(agent.backend, BatchCapable):
        raise ConfigError(
            "bulk triage needs an LLM backend: set OPENAI_API_KEY or OPENAI_BASE_URL, or pass --backend openai"
        )
    if agent.cache is None:
        raise ConfigError("bulk triage stores its results in the cache: drop --no-cache")
    return agent.backend


def manifest_header(agent: Agent, **extra: Any) -> dict[str, Any]:
    """The settings that build this agent's requests, as the first line of a manifest."""
    backend = batch_backend(agent)
    s = agent.settings
    return {
        "kind": MANIFEST_KIND,
        "v": 1,
        "created_at": utc_now(),
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
                self.header = self._read_header(first)
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

    def _read_header(self, first: bytes) -> dict[str, Any]:
        try:
            header = json.loads(first)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("kind") != MANIFEST_KIND:
            raise BatchError(f"{self.path}: not a paper-agent batch manifest")
        return header

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
        h = self.header
        base = settings or Settings()
        base_url = base.base_url
        if base_url is None or public_url(base_url) != h["base_url"]:
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


# ---------------------------------------------------------------------------- building requests


@dataclass
class BuildCounts:
    """What happened to the input papers while request files were built."""

    requests: int = 0
    cached: int = 0
    skipped: int = 0  # no abstract
    pending: int = 0  # already in an open batch
    bytes: int = 0


class _LineEncoder:
    """One JSONL request line per paper; what every request shares is encoded once.

    The body is ``backend.request_body(paper)``. Its fields other than ``messages`` (model,
    tools or response_format, temperature...) are the same for every paper of a run, and so is
    the system message: together ~70 % of each line. When a body's other fields equal (same
    values, same order) those of the body before, their JSON is reused and only the messages
    are encoded; the line is byte for byte what encoding the whole body would give.
    """

    def __init__(self, backend: BatchCapable) -> None:
        self.backend = backend
        self._shared: dict[str, Any] | None = None
        self._shared_order: tuple[str, ...] = ()
        self._shared_json = ""
        self._system: dict[str, str] = {}

    def __call__(self, custom_id: str, paper: Paper) -> bytes:
        body = self.backend.request_body(paper)
        messages = body.get("messages")
        if not isinstance(messages, list) or len(body) < 2 or next(reversed(body)) != "messages":
            line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
            return (dumps(line) + "\n").encode()
        shared = self._shared_part(body)
        encoded = ",".join(self._message(m) for m in messages)
        return (
            f'{{"custom_id":{dumps(custom_id)},"method":"POST","url":"{ENDPOINT}",'
            f'"body":{{{shared},"messages":[{encoded}]}}}}\n'
        ).encode()

    def _shared_part(self, body: dict[str, Any]) -> str:
        """The JSON of ``body`` without its last field (``messages``), braces stripped."""
        rest = {k: v for k, v in body.items() if k != "messages"}
        order = tuple(rest)
        if rest != self._shared or order != self._shared_order:
            self._shared, self._shared_order = rest, order
            self._shared_json = dumps(rest)[1:-1]
        return self._shared_json

    def _message(self, message: Any) -> str:
        if not isinstance(message, dict) or message.get("role") != "system":
            return dumps(message)
        content = message.get("content", "")
        if content not in self._system:
            self._system = {content: dumps(message)}  # one system prompt per run: keep the last
        return self._system[content]


def request_lines(
    agent: Agent,
    papers: Iterable[Paper],
    counts: BuildCounts,
    exclude: set[str] | frozenset[str] = frozenset(),
    excluded: set[str] | None = None,
) -> Iterator[tuple[str, str, Paper, bytes]]:
    """(custom_id, cache key, paper, request line) for every paper that needs a request.

    Papers the online path would skip, papers already cached (unless the agent refreshes) and
    papers whose key is in ``exclude`` (already in an open batch) are counted, not sent; the
    keys of the latter are added to ``excluded`` when given (``run --batch`` waits for them).
    """
    encode = _LineEncoder(batch_backend(agent))
    for paper in papers:
        if agent.skip_reason(paper) is not None:
            counts.skipped += 1
            continue
        key = agent.cache_key(paper)
        if agent.cache is not None and not agent.refresh and agent.cache.get(key) is not None:
            counts.cached += 1
            continue
        if key in exclude:
            counts.pending += 1
            if excluded is not None:
                excluded.add(key)
            continue
        custom_id = f"{paper.id}:{key[:24]}"  # unique: iter_papers drops repeated ids
        yield custom_id, key, paper, encode(custom_id, paper)


class FilePair:
    """A request file and its manifest, written through ``.partial`` names and renamed on close.

    A crash or an error while writing leaves no request file that could be uploaded or run
    without the manifest that makes its results usable.
    """

    def __init__(self, requests: Path, manifest: Path, header: dict[str, Any]) -> None:
        self.requests, self.manifest = requests, manifest
        self._req_tmp = requests.with_name(requests.name + ".partial")
        self._man_tmp = manifest.with_name(manifest.name + ".partial")
        try:
            self._req = self._req_tmp.open("wb")
            self._man = self._man_tmp.open("wb")
        except OSError as exc:
            raise OutputError(f"{requests}: cannot write the request file ({exc.strerror or exc})") from None
        self._header = header
        self.header = header
        self._sha = hashlib.sha256()
        self.lines = 0
        self.bytes = 0
        self.est_prompt_tokens = 0

    def add(self, custom_id: str, key: str, paper: Paper, data: bytes) -> None:
        self._req.write(data)
        self._sha.update(data)
        entry = {"custom_id": custom_id, "key": key, "paper": paper.model_dump(mode="json", exclude_none=True)}
        self._man.write((dumps(entry) + "\n").encode())
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
