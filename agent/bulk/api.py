"""The OpenAI Files and Batches endpoints, and keeping local records in step with them.

Every call goes through the openai SDK with its own retries off: tenacity retries 429s and
5xx (and timeouts, except on create, where a retry could create and pay for a batch twice),
and an error becomes one redacted line (``BatchError``) naming the endpoint without credentials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.bulk.manifest import ENDPOINT, public_url
from agent.bulk.records import ACTIVE, BatchRecord
from agent.errors import BatchError
from agent.settings import Settings


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

        from agent.backends.failures import is_transient
        from agent.redaction import redact

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
                f"{what}: not found at {public_url(self.base_url)} ({redact(str(exc), self._secret)[:200]})"
            ) from None
        except openai.APIError as exc:
            text = redact(f"{exc.__class__.__name__}: {exc}", self._secret)
            raise BatchError(f"{what} failed at {public_url(self.base_url)}: {' '.join(text.split())[:300]}") from None

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


def api_for(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> BatchAPI:
    """The API client for a record's endpoint; one per endpoint and settings (a client costs ~130 ms)."""
    if api is not None:
        return api
    base = settings.base_url
    if base is None or public_url(base) != record.base_url:
        base = record.base_url
    ident = (base, settings.api_key, settings.timeout, settings.retry_attempts, settings.retry_max_wait)
    if ident not in _APIS:
        _APIS[ident] = BatchAPI(settings, base)
    return _APIS[ident]


def refresh(record: BatchRecord, settings: Settings, api: BatchAPI | None) -> BatchRecord:
    """The record with the API's current view, if the batch may still change (saved)."""
    if record.batch_id and (record.status in ACTIVE or record.status == "uploaded"):
        record.update_from(api_for(record, settings, api).retrieve(record.batch_id))
        record.save()
    return record


def reconcile(records: list[BatchRecord], settings: Settings, api: BatchAPI | None) -> None:
    """Uploaded but no batch id (died or failed while creating it): find the batch by its metadata."""
    orphans = [r for r in records if r.status == "uploaded" and not r.batch_id]
    if not orphans:
        return
    remote = {(b.get("metadata") or {}).get("paper_agent_id"): b for b in api_for(orphans[0], settings, api).recent()}
    for record in orphans:
        found = remote.get(record.local_id)
        if found is not None:
            record.batch_id = found["id"]
            record.update_from(found)
        else:
            record.status = "not_submitted"
        record.save()
