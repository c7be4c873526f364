"""What every backend gives the pipeline, and the two ways a backend call can fail.

A backend turns one ``Paper`` into one ``Analysis``. The pipeline owns everything around it:
the cache, status bookkeeping, ordering and outputs, so a backend stays a small adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent.schema import Paper, Usage

if TYPE_CHECKING:
    from agent.pricing import Price


@dataclass
class Analysis:
    """A backend's answer for one paper, already validated against the taxonomy."""

    primary: str
    secondary: list[str]
    confidence: float
    tldr: str
    evidence: str
    usage: Usage = field(default_factory=Usage)
    attempts: list[Usage] = field(default_factory=list)  # per call, re-asks included


class BackendFailure(Exception):
    """A paper the backend could not analyse. ``status`` is what the result records."""

    status = "error"

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage or Usage()


CONTENT_RULE = "well-formed answer broke a content rule"
"""How an ``invalid`` reason starts when every answer had the reply schema's shape (types,
labels, bounds) and broke only a content rule (a TL;DR that restates the title, evidence not in
the abstract...): the server's constraint worked and the model's answer did not. Otherwise the
reason starts "output failed validation". ``paper-agent check`` counts the first kind as
schema-valid answers."""


class InvalidOutput(BackendFailure):
    """The model answered, but never with output that passes validation (after re-asks)."""

    status = "invalid"


class CallFailed(BackendFailure):
    """The endpoint could not be reached or kept failing after every retry."""

    status = "error"


@runtime_checkable
class Backend(Protocol):
    """The interface the pipeline drives. ``cache_components`` lists what changes an answer."""

    name: str
    model: str
    prompt_version: str

    def cache_components(self) -> dict[str, Any]: ...

    async def analyze(self, paper: Paper) -> Analysis: ...


@runtime_checkable
class BatchCapable(Protocol):
    """A backend whose requests can go through a file (the Batch API, vLLM's ``run_batch``).

    Bulk triage (``agent.bulk``) writes ``request_body`` for each paper to a request file and
    reads each reply back with ``parse_reply``; through these two, and nothing private, a
    result that went through a file is the result the online path would have cached.

    - ``request_body(paper)``: exactly the body ``analyze`` sends for the paper's first attempt.
    - ``parse_reply(paper, body, price)``: one chat-completion reply body validated as
      ``analyze`` validates a reply (same response model, validators and repairs), as an
      ``Analysis`` whose usage is costed at ``price`` (default: the online price); a reply that
      fails raises ``InvalidOutput`` with the reason.
    """

    name: str
    model: str
    prompt_version: str
    price: Price | None

    @property
    def base_url(self) -> str: ...

    @property
    def public_base_url(self) -> str: ...

    def request_body(self, paper: Paper) -> dict[str, Any]: ...

    def parse_reply(self, paper: Paper, body: Any, price: Price | None = None) -> Analysis: ...
