"""Writers for results: JSONL (default), CSV, and the Markdown and HTML digests.

No output is ever half-written under its final name: rows stream into ``<name>.partial``
(flushed row by row, so a crash keeps what is done) and the file is renamed into place when
the run completes; a run that fails or is interrupted leaves its rows in ``<name>.partial`` and
any earlier output untouched. The digests are grouped by label, so they are rendered once at
the end from the collected results (``markdown.py``, ``html.py``).

Paper text is untrusted (digests are scraped from the web): CSV cells that a spreadsheet would
run as a formula are defused; the digests escape it (``text.py``).
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Callable, Iterable
from contextlib import suppress
from pathlib import Path
from typing import IO, Protocol

from agent.errors import ConfigError, OutputError
from agent.jsonl import read_jsonl
from agent.outputs.digest import Coverage
from agent.outputs.html import render_html
from agent.outputs.markdown import render_markdown
from agent.schema import Paper, PaperResult
from agent.taxonomy import Taxonomy

FORMATS = ("jsonl", "csv", "md", "html")
EXTENSIONS = {".jsonl": "jsonl", ".csv": "csv", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
CSV_FIELDS = [
    "id",
    "title",
    "authors",
    "url",
    "primary",
    "secondary",
    "confidence",
    "tldr",
    "evidence",
    "status",
    "error",
    "backend",
    "model",
    "prompt_version",
    "taxonomy",
    "cached",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "attempts",
    "latency_ms",
    "cost_usd",
]


def load_results(path: str | Path) -> list[PaperResult]:
    """Read a saved run (one ``PaperResult`` per line) strictly: ``--retry-errors`` and the eval
    recompute from it, so a damaged line is a ``DatasetError`` naming ``file:line``."""
    return [result for _, result in read_jsonl(path, PaperResult, "result")]


def resolve_format(fmt: str | None, path: str | Path | None) -> str:
    """The output format: ``fmt`` if given (any case, like extensions: ``-f CSV``), else the one
    the output's extension names.

    Raises ``ConfigError`` (exit 2) for an unknown ``fmt`` or an extension that names no format
    we write, rather than writing JSON Lines into ``x.csv`` or ``x.json``.
    """
    choices = ", ".join(FORMATS)
    if fmt is not None:
        if fmt.strip().lower() not in FORMATS:
            raise ConfigError(f"unknown output format {fmt!r} (--format: choose from {choices})")
        return fmt.strip().lower()
    if path in (None, "-"):
        return "jsonl"
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "jsonl"
    if suffix not in EXTENSIONS:
        raise ConfigError(
            f"{path}: cannot tell the output format from {suffix!r}; pass --format (choose from {choices}) "
            f"or name the file {', '.join(EXTENSIONS)}"
        )
    return EXTENSIONS[suffix]


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def flatten(result: PaperResult) -> dict[str, object]:
    row = result.model_dump(mode="json", exclude={"usage"})
    row["authors"] = "; ".join(result.authors)
    row["secondary"] = ";".join(result.secondary)
    row.update(result.usage.model_dump(mode="json"))
    return {k: ("" if row.get(k) is None else csv_safe(row.get(k))) for k in CSV_FIELDS}


class ResultWriter(Protocol):
    def write(self, result: PaperResult) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...
    def fail(self) -> Path | None: ...


def lock_output(path: Path) -> int | None:
    """Hold ``<path>.lock`` (``flock``) for as long as this run writes ``path``; return its fd.

    Two runs writing one output would interleave their rows in the same ``.partial`` file, so a
    second writer is refused at once (``OutputError`` naming the other run's pid). The OS drops
    an ``flock`` when its process dies, so a killed run never blocks the next one. The holder
    deletes the lock file when done; a run that opened it just before that retries on the new
    file (the inode check), so two runs can never both hold "the" lock. None where there is no
    ``fcntl`` (Windows): no lock, as before.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    lock = path.with_name(path.name + ".lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            other = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(
                f"{path}: another paper-agent run (pid {other}) is writing this output; "
                f"wait for it to finish or choose another -o (lock: {lock.name})"
            ) from None
        try:
            current = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except OSError:
            current = False
        if current:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # the holder removed it after we opened it: lock the new one


def unlock_output(path: Path, fd: int | None) -> None:
    """Release ``lock_output``'s lock: remove the file while still holding it, then close."""
    if fd is None:
        return
    with suppress(OSError):
        os.unlink(path.with_name(path.name + ".lock"))
    with suppress(OSError):
        os.close(fd)


class AtomicTarget:
    """Where bytes go: stdout, or ``path.partial`` renamed to ``path`` on close.

    A file output is locked (``lock_output``) from the moment its ``.partial`` is opened until
    it is published, dropped or kept by ``fail``: one writer per output, never interleaved rows.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock: int | None = None
        # A device or pipe (/dev/stdout, a FIFO) is written in place: renaming a file over
        # it would replace the device.
        special = path is not None and path.exists() and not path.is_file() and not path.is_dir()
        self.partial = path.with_name(path.name + ".partial") if path and not special else None
        if path is not None and special:
            try:
                self.fh: IO[str] = open(path, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None
            return
        if self.partial is None:
            self.fh = sys.stdout
            return
        try:
            if path is not None and path.is_dir():
                raise OutputError(f"{path}: is a directory, expected an output file name")
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._lock = lock_output(path) if path is not None else None
            self.fh = open(self.partial, "w", encoding="utf-8", newline="")
        except OutputError:
            raise
        except OSError as exc:
            self._unlock()
            raise OutputError(f"{path}: cannot write output ({exc.strerror or exc})") from None

    def _unlock(self) -> None:
        if self.path is not None:
            unlock_output(self.path, self._lock)
        self._lock = None

    def write(self, text: str) -> None:
        try:
            self.fh.write(text)
            self.fh.flush()
        except BrokenPipeError:
            raise  # stdout closed by `| head`: not an error worth a message
        except OSError as exc:
            raise OutputError(
                f"{self.path or 'stdout'}: write failed ({exc.strerror or exc}); finished results are in the cache"
            ) from None

    def abort(self) -> None:
        """Drop the partial file and leave any existing output untouched."""
        if self.partial is None:
            self.close()
            return
        try:
            self.fh.close()
            self.partial.unlink(missing_ok=True)
        except OSError:
            pass
        self._unlock()

    def fail(self) -> Path | None:
        """The run did not complete: keep its rows in the partial file, never under the final
        name (an earlier complete output stays as it was). Returns where the rows are."""
        if self.partial is None:
            self.close()
            return self.path
        try:
            self.fh.close()
        except OSError:
            pass
        self._unlock()
        return self.partial

    def close(self) -> None:
        if self.partial is None or self.path is None:
            try:
                self.fh.flush()
                if self.fh is not sys.stdout:
                    self.fh.close()
            except OSError as exc:
                raise OutputError(f"{self.path or 'stdout'}: write failed ({exc.strerror or exc})") from None
            return
        try:
            self.fh.close()
            os.replace(self.partial, self.path)
        except OSError as exc:
            raise OutputError(
                f"{self.path}: cannot finish output ({exc.strerror or exc}); rows so far are in {self.partial}"
            ) from None
        finally:
            self._unlock()


class _RowWriter:
    """A writer that streams each row to its ``AtomicTarget`` as it comes (JSONL, CSV): ending,
    failing and aborting are the target's own."""

    def __init__(self, path: Path | None) -> None:
        self.target = AtomicTarget(path)

    def abort(self) -> None:
        self.target.abort()

    def fail(self) -> Path | None:
        return self.target.fail()

    def close(self) -> None:
        self.target.close()


class JsonlWriter(_RowWriter):
    def write(self, result: PaperResult) -> None:
        self.target.write(result.model_dump_json() + "\n")


class CsvWriter(_RowWriter):
    def __init__(self, path: Path | None) -> None:
        super().__init__(path)
        self._buf = io.StringIO()
        self._csv = csv.DictWriter(self._buf, fieldnames=CSV_FIELDS)
        self._csv.writeheader()
        self._drain()

    def _drain(self) -> None:
        self.target.write(self._buf.getvalue())
        self._buf.seek(0)
        self._buf.truncate()

    def write(self, result: PaperResult) -> None:
        self._csv.writerow(flatten(result))
        self._drain()


Renderer = Callable[[list[PaperResult], Taxonomy, "str | None", "Coverage | None"], str]


class DigestWriter:
    """A digest grouped by method type (Markdown or HTML): results are collected and the page is
    rendered once, when the run ends (or fails: then into the partial file)."""

    def __init__(
        self,
        path: Path | None,
        taxonomy: Taxonomy,
        notice: str | None = None,
        coverage: Coverage | None = None,
        render: Renderer = render_markdown,
    ) -> None:
        self.target = AtomicTarget(path)
        self.taxonomy = taxonomy
        self.notice = notice
        self.coverage = coverage
        self.render = render
        self.results: list[PaperResult] = []

    def write(self, result: PaperResult) -> None:
        self.results.append(result)

    def abort(self) -> None:
        self.target.abort()

    def fail(self) -> Path | None:
        try:
            self.target.write(self.render(self.results, self.taxonomy, self.notice, self.coverage))
        except OutputError:
            pass
        return self.target.fail()

    def close(self) -> None:
        self.target.write(self.render(self.results, self.taxonomy, self.notice, self.coverage))
        self.target.close()


MarkdownWriter = DigestWriter  # the name earlier versions exported


def make_writer(
    fmt: str | None,
    path: str | Path | None,
    taxonomy: Taxonomy,
    notice: str | None = None,
    coverage: Coverage | None = None,
) -> ResultWriter:
    """A writer for ``fmt`` (``None``: inferred from ``path``'s extension, see ``resolve_format``).
    ``coverage`` tells a digest what it covers; JSONL and CSV rows need no header."""
    fmt = resolve_format(fmt, path)
    p = Path(path) if path not in (None, "-") else None
    if fmt == "csv":
        return CsvWriter(p)
    if fmt in ("md", "html"):
        return DigestWriter(p, taxonomy, notice, coverage, render_html if fmt == "html" else render_markdown)
    return JsonlWriter(p)


def write_papers(papers: Iterable[Paper], output: str | Path | None) -> int:
    """Write ``Paper`` JSONL to ``output`` (stdout if None) via ``FILE.partial``; return the count.

    ``paper-agent fetch`` saves what it fetched this way, so a fetched file is never half-written
    under its final name either, and reads back as ``jsonl`` input.
    """
    target = AtomicTarget(Path(output) if output not in (None, "-") else None)
    n = 0
    try:
        for paper in papers:
            target.write(paper.model_dump_json(exclude_none=True) + "\n")
            n += 1
    except BaseException:
        target.abort()
        raise
    target.close()
    return n
