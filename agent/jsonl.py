"""The one strict JSONL reader, for files that people or paper-agent wrote and must be right.

Datasets, saved runs and bulk manifests are all one JSON object per line. Reading them is
strict: every failure is one error of the caller's class naming ``file:line`` and the problem,
so a typo in a label file stops an eval with a one-line message instead of a quietly wrong
accuracy. (Digest inputs are read leniently elsewhere: a bad entry there is a warning.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agent.errors import DatasetError, PaperAgentError, first_error

M = TypeVar("M", bound=BaseModel)


def read_text(path: str | Path, what: str, error: type[PaperAgentError] = DatasetError) -> str:
    """The whole file as UTF-8 text, or one ``error`` line saying why it cannot be read."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{p}: {what} file not found") from None
    except IsADirectoryError:
        raise error(f"{p}: is a folder, expected a {what} JSONL file") from None
    except UnicodeDecodeError:
        raise error(f"{p}: {what} file is not UTF-8 text") from None
    except OSError as exc:
        raise error(f"{p}: cannot read {what} file ({exc.strerror or exc})") from None


def read_jsonl(
    path: str | Path, model: type[M], what: str, error: type[PaperAgentError] = DatasetError
) -> Iterator[tuple[int, M]]:
    """Yield ``(line_number, record)``; blank lines are skipped, anything else must validate."""
    p = Path(path)
    for lineno, line in enumerate(read_text(p, what, error).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{p}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(data, dict):
            raise error(f"{p}:{lineno}: expected a JSON object, got {type(data).__name__}")
        try:
            yield lineno, model.model_validate(data)
        except ValidationError as exc:
            raise error(f"{p}:{lineno}: invalid {what} record, {first_error(exc)}") from None
