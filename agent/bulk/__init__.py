"""Bulk triage on an existing engine: the OpenAI Batch API, and request files any engine runs.

Every request is the chat-completions body the online path would send for the paper (the
backend's public ``request_body``), and every reply is validated by its ``parse_reply`` (the
online response model and validators) and stored in the same cache, so a later
``paper-agent run`` on those papers is free (``agent.backends.base.BatchCapable``).

- ``batch_submit``: request files split at the API limits, each with its manifest and a local
  record written before it is uploaded (``jobs``; files: ``manifest``; records: ``records``).
- ``batch_status`` / ``batch_list`` / ``batch_cancel``: the API's view, saved in the records
  (``jobs``, through ``api``).
- ``batch_collect``: downloads output and error files once, then reads them (any order, lines
  missing or repeated): every paper of the batch ends ``ok``, ``invalid`` or ``error``, exactly
  once. A cached result is never rewritten, so collecting twice changes nothing (``collect``).
- ``batch_export`` / ``batch_import``: the same request file for vLLM's ``run_batch`` or any
  OpenAI-batch-format engine, and its results file back into the cache and an output (``collect``).
- ``triage_batch``: submit, wait, collect, write: what ``paper-agent run --batch`` does (``jobs``).

Layers, each importing only those above it: ``manifest`` (request files, manifests) ->
``records`` (local records) -> ``api`` (the Batch API client) -> ``collect`` (results -> cache,
export / import) -> ``jobs`` (submit, status, wait, run --batch).

The API key is only ever in the HTTP client: request files, manifests and records hold the
base URL without credentials, and error messages are redacted.
"""

from agent.bulk.api import BatchAPI
from agent.bulk.collect import CollectReport, ExportReport, Outcome, batch_collect, batch_export, batch_import
from agent.bulk.jobs import SubmitReport, batch_cancel, batch_list, batch_status, batch_submit, batch_wait, triage_batch
from agent.bulk.manifest import ENDPOINT, MAX_BYTES, MAX_LINES, BuildCounts, Manifest, manifest_path_for
from agent.bulk.records import ACTIVE, TERMINAL, BatchRecord, RecordStore, RemoteError

__all__ = [
    "ACTIVE",
    "ENDPOINT",
    "MAX_BYTES",
    "MAX_LINES",
    "TERMINAL",
    "BatchAPI",
    "BatchRecord",
    "BuildCounts",
    "CollectReport",
    "ExportReport",
    "Manifest",
    "Outcome",
    "RecordStore",
    "RemoteError",
    "SubmitReport",
    "batch_cancel",
    "batch_collect",
    "batch_export",
    "batch_import",
    "batch_list",
    "batch_status",
    "batch_submit",
    "batch_wait",
    "manifest_path_for",
    "triage_batch",
]
