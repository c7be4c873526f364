"""Errors a user can cause, each with a one-line message that says how to fix it.

The CLI maps these to exit codes (``exit_code``) and prints ``str(err)`` only: a user mistake
never shows a traceback. Anything that is not a ``PaperAgentError`` is a bug in paper-agent.
"""

from __future__ import annotations


def first_error(exc: Exception) -> str:
    """The first problem of a pydantic ``ValidationError`` as one line (``field 'x': message``).

    Users see one line per mistake; pydantic's multi-line dump is for developers. Anything
    that is not a validation error is shown as its own message.
    """
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    found = errors()
    if not found:
        return str(exc)
    first = found[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"field {where!r}: {first['msg']}" if where else str(first["msg"])


class PaperAgentError(Exception):
    """Base class for every error paper-agent raises on purpose."""

    exit_code = 1


class InputError(PaperAgentError):
    """An input path that cannot be read as papers (missing, empty, binary, unknown format)."""

    exit_code = 2

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class TaxonomyError(PaperAgentError):
    """A taxonomy file that is missing or malformed."""

    exit_code = 2


class ConfigError(PaperAgentError):
    """Settings that cannot work together (unknown backend, missing model, bad option)."""

    exit_code = 2


class CacheUnreadable(ConfigError):
    """A cache database that is not a database any more (overwritten, truncated at the header).

    ``paper-agent cache clear`` (``agent.clear_cache``) resets such a cache; the message says so.
    """


class DatasetError(PaperAgentError):
    """An eval dataset or results file that cannot be read."""

    exit_code = 2


class FetchError(PaperAgentError):
    """arXiv could not be reached, or answered only part of a result set (exit code 4).

    ``fetched`` and ``total`` say how far it got; pages that did arrive are in the cache,
    so running the same command again resumes instead of starting over.
    """

    exit_code = 4

    def __init__(self, message: str, fetched: int = 0, total: int | None = None) -> None:
        self.fetched = fetched
        self.total = total
        super().__init__(message)


class OutputError(PaperAgentError):
    """The output path cannot be written (read-only, disk full, a directory)."""

    exit_code = 3


class BatchError(PaperAgentError):
    """A bulk job that cannot go on: unknown batch id, an API refusal, a manifest that does not match."""

    exit_code = 2


class BatchNotReady(PaperAgentError):
    """The batch is still running: nothing to collect yet (run ``batch collect`` again later)."""

    exit_code = 5  # 4 is arXiv unreachable (FetchError)
