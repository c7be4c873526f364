"""Which files to read, and whether each can be read as text at all.

Paths named by the user, folders (every file inside, recursively), the byte-level checks that
turn an empty, binary, UTF-16 or non-UTF-8 file into one clear ``InputError`` before any work
starts, and the guard that an output file is never also an input. Nothing here knows a digest
format; ``formats`` names the format of the text this module hands over.
"""

from __future__ import annotations

import codecs
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.errors import InputError

log = logging.getLogger(__name__)

HEAD_BYTES = 1 << 16
ARXIV_SOURCE_PREFIX = "arxiv:"


@dataclass(frozen=True)
class InputFile:
    """A file to read. ``named``: the user named it (a bad one is an error), not found in a folder
    (a bad one is a warning, so one stray file never costs the rest of the folder)."""

    path: Path
    named: bool


SkipHandler = Callable[[InputError], None]


def report_skip(problem: InputError, on_skip: SkipHandler | None) -> None:
    """A file left out of the run: always a warning, and counted by ``on_skip`` when given."""
    log.warning("skipped file %s", problem)
    if on_skip is not None:
        on_skip(problem)


# --------------------------------------------------------------------------- reading bytes


def _read_error(path: Path, exc: OSError) -> InputError:
    """One line saying why a file could not be opened, instead of an ``OSError`` traceback."""
    if isinstance(exc, FileNotFoundError):
        return InputError(str(path), "no such file or directory")
    if isinstance(exc, IsADirectoryError):
        return InputError(str(path), "is a directory")
    if isinstance(exc, PermissionError):
        return InputError(str(path), "permission denied")
    return InputError(str(path), f"cannot read ({exc.strerror or exc})")


def _decode(data: bytes, path: Path, final: bool = True) -> str:
    """UTF-8 (a BOM dropped, line ends normalised); ``final=False`` for a head cut mid-character."""
    try:
        decoder = codecs.getincrementaldecoder("utf-8-sig")()
        text = decoder.decode(data, final=final)
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path), f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _looks_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or ASCII text with a NUL in every other byte (UTF-16 without one)."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    sample = data[:512]
    if len(sample) < 8:
        return False
    # One half of the bytes (nearly) all NUL and the other half (nearly) none: a run of NULs
    # in a binary file fills both halves.
    halves = [half.count(0) / len(half) for half in (sample[0::2], sample[1::2])]
    return max(halves) >= 0.9 and min(halves) <= 0.1


def _check_bytes(data: bytes, path: Path, complete: bool) -> str:
    """Reject empty, binary and non-UTF-8 content; ``complete`` says ``data`` is the whole file."""
    if complete and not data.strip():
        raise InputError(str(path), "file is empty")
    if _looks_utf16(data):
        # Windows tools (PowerShell's `>`, Notepad's "Unicode") write UTF-16: say so, not "binary".
        raise InputError(
            str(path), f"UTF-16 text, expected UTF-8 (convert it: iconv -f UTF-16 -t UTF-8 {path} > {path}.utf8)"
        )
    if b"\x00" in data[:8192]:
        raise InputError(str(path), "binary file (contains NUL bytes), expected a text digest")
    return _decode(data, path, final=complete)


def check_file(path: Path) -> str:
    """Check that ``path`` looks like a readable text digest and return its first 64 KiB.

    Cheap enough to run on every input before any work starts: a typo, an empty file, a
    binary or non-UTF-8 file fails the run at once with one line naming the file.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
            more = bool(fh.read(1))
    except OSError as exc:
        raise _read_error(path, exc) from None
    return _check_bytes(head, path, complete=not more)


def read_text(path: Path) -> str:
    """Read a whole file as UTF-8 text, or raise ``InputError`` saying what is wrong with it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _read_error(path, exc) from None
    return _check_bytes(data, path, complete=True)


def stream_lines(path: Path) -> Iterator[tuple[int, str]]:
    """A JSON Lines file line by line, so a 100,000-paper file never sits in memory whole."""
    try:
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError:
                    log.warning("%s:%d: skipped line: not UTF-8", path, lineno)
                    continue
                yield lineno, line
    except OSError as exc:
        raise _read_error(path, exc) from None


# --------------------------------------------------------------------------- which files


def _walk(folder: Path, on_skip: SkipHandler | None) -> list[Path]:
    """Every regular file under ``folder``, recursively, sorted by path; hidden files and
    folders are skipped, and a folder reached twice (a symlink loop) is read once."""
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []

    def unreadable(exc: OSError) -> None:
        report_skip(InputError(str(exc.filename or folder), f"cannot read folder ({exc.strerror or exc})"), on_skip)

    for root, dirs, files in os.walk(folder, onerror=unreadable, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(root, name) for name in files if not name.startswith("."))
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(folder).parts)


def is_arxiv_source(item: str | Path | InputFile) -> bool:
    """``arxiv:cs.IR`` and the like: fetched, not read (a file that has such a name stays a file)."""
    if isinstance(item, InputFile):
        return False
    return str(item).lower().startswith(ARXIV_SOURCE_PREFIX) and not Path(item).exists()


def expand_paths(paths: Iterable[str | Path | InputFile], on_skip: SkipHandler | None = None) -> list[InputFile]:
    """Files named directly, plus every file (recursively, not hidden) in a named folder."""
    out: list[InputFile] = []
    for raw in paths:
        if isinstance(raw, InputFile):
            out.append(raw)
            continue
        p = Path(raw)
        if p.is_dir():
            files = _walk(p, on_skip)
            if not files:
                raise InputError(str(p), "directory contains no files")
            out.extend(InputFile(f, named=False) for f in files)
        elif not p.exists():
            raise InputError(str(p), "no such file or directory")
        else:
            out.append(InputFile(p, named=True))
    return out


def refuse_output_among_inputs(files: Iterable[InputFile], output: str | Path | None) -> None:
    """An output that is also an input would be destroyed by the run: refuse before reading."""
    if output is None or str(output) == "-":
        return
    out = Path(output)
    if not out.is_file():
        return
    for f in files:
        try:
            same = os.path.samefile(f.path, out)
        except OSError:
            continue
        if same:
            alias = "" if str(f.path) == str(output) else f" ({f.path})"
            raise InputError(str(output), f"is also an input file{alias}; choose another output file with -o")
