"""The one fake ``Backend`` the tests share: a scripted answer per paper, and a record of calls.

It implements ``agent.backends.base.Backend`` (name, model, prompt_version, cache_components,
async analyze) and nothing else, so a test that uses it exercises the real pipeline, cache,
writers and eval harness around a backend whose answers the test controls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.backends.base import Analysis, BackendFailure
from agent.schema import Paper, Usage

Answer = Analysis | BackendFailure | Callable[[Paper], Analysis | BackendFailure]


def answer(primary: str = "other", tldr: str = "A paper.", **fields: Any) -> Analysis:
    """An ``Analysis`` with defaults for every field a test does not care about."""
    fields.setdefault("secondary", [])
    fields.setdefault("confidence", 0.9)
    fields.setdefault("evidence", "")
    fields.setdefault("usage", Usage(prompt_tokens=10, completion_tokens=5))
    return Analysis(primary=primary, tldr=tldr, **fields)


@dataclass
class FakeBackend:
    """Answers every paper with ``reply`` (an Analysis, a failure to raise, or a function of the paper)."""

    reply: Answer = field(default_factory=answer)
    name: str = "fake"
    model: str = "fake-model"
    prompt_version: str = "fake-v1"
    calls: list[str] = field(default_factory=list)

    def cache_components(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model, "prompt": self.prompt_version}

    async def analyze(self, paper: Paper) -> Analysis:
        self.calls.append(paper.id)
        out = self.reply(paper) if callable(self.reply) else self.reply
        if isinstance(out, BackendFailure):
            raise out
        return out
