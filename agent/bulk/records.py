"""Local batch records: ``<cache dir>/batches/<local id>/record.json`` next to the batch's files.

A record is written *before* anything is uploaded and updated after every step (upload,
create, every status check, collect), so a crash at any point loses nothing: ``batch list``
finds every batch this machine started, and what to do next with it.

``record.json`` is a flat JSON object; ``BatchRecord`` gives it named, typed fields. Fields
without a value are left out of the file, as they always were, so records written before the
fields were typed load unchanged, and records written now load in older versions.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agent.bulk.manifest import Manifest, utc_now
from agent.errors import BatchError, ConfigError

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "expired", "cancelled")
EST_COMPLETION_TOKENS = 80  # for the cost estimate before results exist (measured: 62)

NEXT_STEP = {
    "failed": "nothing ran and nothing is charged; fix the problem shown and run `paper-agent batch submit` again",
    "expired": "it ran out of its 24 h window; the papers without a result are listed as error: "
    "run `paper-agent batch submit` on the same inputs again (cached papers are skipped), or collect with --repair",
    "cancelled": "the papers without a result are listed as error: run `paper-agent batch submit` on the same "
    "inputs again (cached papers are skipped), or collect with --repair",
}

# The API's times (Unix seconds) kept in a record; its "created_at" is kept as "remote_created_at".
REMOTE_TIMES = (
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file: a reader never sees half a record."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any) -> int | float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class RemoteError(BaseModel):
    """One reason the Batch API gives for a whole batch (e.g. a line it cannot parse)."""

    code: str | None = None
    message: str | None = None
    line: int | str | None = None
    param: str | None = None

    @classmethod
    def from_api(cls, error: dict[str, Any]) -> RemoteError:
        """Kept whatever types another service sends: a record must always load again."""
        line = error.get("line")
        return cls(
            code=_text(error.get("code")),
            message=_text(error.get("message")),
            line=line if isinstance(line, (int, str)) and not isinstance(line, bool) else None,
            param=_text(error.get("param")),
        )

    def describe(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.code if self.code is not None else 'error'}: {self.message or ''}{where}"


class BatchRecord(BaseModel):
    """One submitted (or submitting) batch: ``record.json`` in its own folder with the files.

    ``status`` is local until the batch exists (``built``: files written; ``uploaded``: input
    file sent, batch not confirmed; ``not_submitted``: gave up, see ``error``), then the API's.
    """

    dir: Path = Field(exclude=True)  # the record's folder; not stored in the file
    # Written when the record is created (before anything leaves the machine).
    local_id: str
    created_at: str | None = None  # UTC, when the record was created
    created_ts: float = 0.0  # the same, in Unix seconds (sorting, age)
    status: str = "unknown"
    inputs: list[str] = Field(default_factory=list)  # resolved input paths
    model: str | None = None
    base_url: str | None = None  # without credentials
    mode: str | None = None
    batch_price: tuple[float, float] | None = None  # USD per million tokens (input, output); None: unpriced
    # Once the request file is written.
    requests: int = 0
    bytes: int = 0
    est_prompt_tokens: int = 0
    # Upload and create.
    input_file_id: str | None = None
    batch_id: str | None = None
    error: str | None = None  # why a local step failed (redacted)
    # The API's view of the batch (``update_from``).
    output_file_id: str | None = None
    error_file_id: str | None = None
    request_counts: dict[str, int] | None = None  # total, completed, failed
    remote_created_at: int | float | None = None
    in_progress_at: int | float | None = None
    expires_at: int | float | None = None
    finalizing_at: int | float | None = None
    completed_at: int | float | None = None
    failed_at: int | float | None = None
    expired_at: int | float | None = None
    cancelling_at: int | float | None = None
    cancelled_at: int | float | None = None
    errors: list[RemoteError] = Field(default_factory=list)
    checked_at: str | None = None  # UTC, the last status check
    # Collect.
    outcome: dict[str, int] | None = None  # papers ok / invalid / error
    cost_usd: float | None = None  # at the batch price, from the results
    collected_at: str | None = None

    @classmethod
    def load(cls, folder: Path) -> BatchRecord:
        """The record in ``folder``; OSError or ValueError (pydantic's errors are ValueErrors) if
        it cannot be read or is damaged."""
        data = json.loads((folder / "record.json").read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("record.json is not a JSON object")
        return cls.model_validate({**data, "dir": folder})

    @property
    def requests_path(self) -> Path:
        return self.dir / "requests.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.dir / "manifest.jsonl"

    @property
    def counts(self) -> dict[str, int]:
        return self.request_counts or {"total": self.requests, "completed": 0, "failed": 0}

    def save(self) -> None:
        data = self.model_dump(mode="json", exclude_none=True)
        atomic_write(self.dir / "record.json", json.dumps(data, indent=2, ensure_ascii=False))

    def update_from(self, batch: dict[str, Any]) -> None:
        """Keep the API's view of the batch (state, counts, file ids, errors, times)."""
        if batch.get("status") is not None:
            self.status = str(batch["status"])
        for name in ("output_file_id", "error_file_id"):
            if batch.get(name) is not None:
                setattr(self, name, str(batch[name]))
        counts = batch.get("request_counts")
        if isinstance(counts, dict):
            self.request_counts = {k: v for k, v in counts.items() if isinstance(v, int)}
        if _time(batch.get("created_at")) is not None:
            self.remote_created_at = _time(batch["created_at"])
        for name in REMOTE_TIMES:
            if _time(batch.get(name)) is not None:
                setattr(self, name, _time(batch[name]))
        errors = (batch.get("errors") or {}).get("data") or []
        if errors:
            self.errors = [RemoteError.from_api(e) for e in errors if isinstance(e, dict)]
        self.checked_at = utc_now()

    def age_s(self) -> float:
        created = self.created_ts or time.time()
        return max(0.0, time.time() - created)

    def estimated_cost(self) -> float | None:
        """USD at the batch price: actual once collected, else from request sizes."""
        if self.cost_usd is not None:
            return self.cost_usd
        if not self.batch_price:
            return None
        completion = self.requests * EST_COMPLETION_TOKENS
        return round((self.est_prompt_tokens * self.batch_price[0] + completion * self.batch_price[1]) / 1e6, 6)

    def failure_reason(self) -> str:
        """The API's reasons for a failed batch, joined (what every paper of it is reported with)."""
        return "; ".join(e.message or "" for e in self.errors)

    def next_step(self) -> str | None:
        """What the user should do about this batch, if anything (shown by list, status, collect)."""
        if self.status in NEXT_STEP:
            why = "; ".join(e.describe() for e in self.errors)
            return (
                f"batch {self.batch_id or self.local_id} {self.status}"
                + (f" ({why})" if why else "")
                + ": "
                + NEXT_STEP[self.status]
            )
        if self.status == "uploaded" and not self.batch_id:
            return (
                f"batch {self.local_id} was uploaded but creating it failed ({self.error or 'interrupted'}): "
                "`paper-agent batch list` finds it if it was created after all; `batch submit` again if not"
            )
        if self.status in ("built", "not_submitted"):
            why = self.error or "interrupted"
            return f"batch {self.local_id} was never submitted ({why}): run `paper-agent batch submit` again"
        return None


class RecordStore:
    """The local batch records: ``<cache dir>/batches/<local id>/record.json``."""

    def __init__(self, cache_dir: str | Path) -> None:
        self.root = Path(cache_dir) / "batches"

    def new(self, **fields: Any) -> BatchRecord:
        """A new record in a new folder (not saved yet: the caller fills it in first)."""
        local_id = f"pa_{time.strftime('%Y%m%d_%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"
        folder = self.root / local_id
        try:
            folder.mkdir(parents=True, exist_ok=False)
        except OSError as exc:
            raise ConfigError(f"{folder}: cannot create the batch record ({exc.strerror or exc})") from None
        return BatchRecord(dir=folder, local_id=local_id, created_at=utc_now(), created_ts=time.time(), **fields)

    def all(self) -> list[BatchRecord]:
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(self.root.iterdir()):
            try:
                out.append(BatchRecord.load(folder))
            except (OSError, ValueError):
                continue  # a folder being created, or damaged: skipped
        return sorted(out, key=lambda r: r.created_ts)

    def find(self, ident: str) -> BatchRecord:
        for record in self.all():
            if ident in (record.local_id, record.batch_id):
                return record
        raise BatchError(
            f"unknown batch {ident!r}: no record in {self.root} (`paper-agent batch list` shows the known ones)"
        )

    def pending_keys(self) -> set[str]:
        """Cache keys of papers in batches still running or finished but not yet collected."""
        return set(self.pending_batches())

    def pending_batches(self) -> dict[str, BatchRecord]:
        """The open batch (running, or finished but not collected) of every cache key in one.

        ``run --batch`` re-run after a Ctrl-C waits for and collects these instead of
        submitting their papers again.
        """
        found: dict[str, BatchRecord] = {}
        for record in self.all():
            if record.collected_at or record.status not in ACTIVE + ("completed",):
                continue
            try:
                keys = Manifest(record.manifest_path).keys()
            except BatchError:
                continue
            for key in keys:
                found.setdefault(key, record)
        return found
