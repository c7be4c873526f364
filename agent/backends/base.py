"""What every backend gives the pipeline, and the two ways a backend call can fail.

A backend turns one ``Paper`` into one ``Analysis``. The pipeline owns everything around it:
the cache, status bookkeeping, ordering and outputs, so a backend stays a small adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent.schema import Paper, Usage


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
