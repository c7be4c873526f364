"""Every result is cached on disk so nothing is paid for twice and a crashed run resumes.

The key is a SHA-256 over everything that changes an answer (``Backend.cache_components()``:
backend, model, base URL, mode, prompt text, taxonomy, response schema, generation
parameters) plus the paper's title, abstract and digest summary. Only ``ok`` results are
stored. Values are plain JSON (pickled pydantic objects break when classes change), and an
entry that cannot be read or validated is a miss, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache

from agent.errors import CacheUnreadable, ConfigError
from agent.schema import Paper, PaperResult, Usage
from agent.settings import Settings

log = logging.getLogger("agent.cache")
ENTRY_VERSION = 1


def _digest(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _open(directory: Path, size_limit: int, what: str) -> diskcache.Cache:
    """A ``diskcache.Cache`` in ``directory``; a database that is not one says how to reset it.

    ``sqlite3.OperationalError`` (a folder we cannot write) is a plain ``ConfigError``: clearing
    would not help. Any other ``DatabaseError`` ("file is not a database") is ``CacheUnreadable``.
    """
    try:
        return diskcache.Cache(str(directory), size_limit=size_limit)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):
            raise ConfigError(f"{directory}: cannot open {what} ({exc})") from None
        raise CacheUnreadable(
            f"{directory}: cannot open {what} ({exc}); run `paper-agent cache clear` to reset it"
        ) from None
    except Exception as exc:  # OSError: a path we cannot use
        raise ConfigError(f"{directory}: cannot open {what} ({exc})") from None


# diskcache's own files in its folder: the database (with its journal) and value subfolders "ab".
_DISKCACHE_DB = ("cache.db", "cache.db-wal", "cache.db-shm", "cache.db-journal")
_VALUE_DIR_RE = re.compile(r"^[0-9a-f]{2}$")


def _reset(directory: Path) -> None:
    """Delete diskcache's files in ``directory`` (nothing else: ``arxiv/`` and ``batches/`` stay)."""
    for name in _DISKCACHE_DB:
        (directory / name).unlink(missing_ok=True)
    for sub in directory.iterdir():
        if sub.is_dir() and _VALUE_DIR_RE.match(sub.name):
            shutil.rmtree(sub, ignore_errors=True)
    log.warning("%s: the cache database could not be read; reset it", directory)


def paper_components(paper: Paper) -> dict[str, str]:
    return {"title": paper.title, "abstract": paper.abstract, "digest_summary": paper.digest_summary or ""}


@dataclass
class KeyBuilder:
    """Hashes the backend's components once; each paper then costs one small hash."""

    components: dict[str, Any]

    def __post_init__(self) -> None:
        self.component_digests = {k: _digest(v)[:16] for k, v in sorted(self.components.items())}
        self._prefix = _digest(self.component_digests)

    def key(self, paper: Paper) -> str:
        return _digest(self._prefix + "\x00" + _digest(paper_components(paper)))

    def explain(self, paper: Paper) -> dict[str, str]:
        """Each component's short digest, so two keys can be compared part by part."""
        out = dict(self.component_digests)
        out.update({f"paper.{k}": _digest(v)[:16] for k, v in paper_components(paper).items()})
        return out


class ResultCache:
    """A ``diskcache.Cache`` of JSON entries: result, per-attempt usage, creation time."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._cache = _open(self.directory, 2**34, "the cache")

    def get(self, key: str) -> PaperResult | None:
        try:
            raw = self._cache.get(key)
        except Exception as exc:  # a corrupt database page or value file
            log.warning("cache entry %s unreadable (%s): recomputing", key[:12], exc.__class__.__name__)
            return None
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            result = PaperResult.model_validate(entry["result"])
        except Exception:
            log.warning("cache entry %s does not validate: recomputing", key[:12])
            return None
        result.cached = True
        return result

    def set(self, key: str, result: PaperResult, attempts: list[Usage], components: dict[str, str]) -> None:
        entry = {
            "v": ENTRY_VERSION,
            "result": result.model_dump(mode="json", exclude={"cached"}),
            "attempts": [u.model_dump(mode="json") for u in attempts],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "components": components,
        }
        try:
            self._cache.set(key, json.dumps(entry, ensure_ascii=False))
        except Exception as exc:
            log.warning("could not write cache entry %s (%s)", key[:12], exc)

    def entry(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._cache.get(key)
            return json.loads(raw) if raw is not None else None
        except Exception:
            return None

    def entries(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for key in self._cache.iterkeys():
            entry = self.entry(key)
            if entry is not None:
                yield key, entry

    def stats(self) -> dict[str, Any]:
        by_backend: dict[str, int] = {}
        count = 0
        for _, entry in self.entries():
            count += 1
            res = entry.get("result", {})
            name = f"{res.get('backend', '?')}/{res.get('model', '?')}"
            by_backend[name] = by_backend.get(name, 0) + 1
        return {
            "path": str(self.directory),
            "entries": count,
            "size_bytes": self._cache.volume(),
            "by_backend_model": by_backend,
        }

    def clear(self) -> int:
        return self._cache.clear()

    def close(self) -> None:
        self._cache.close()

    def __len__(self) -> int:
        return len(self._cache)


class PageCache:
    """Pages fetched from arXiv (raw Atom), in ``<cache_dir>/arxiv``, apart from the results.

    Keyed by the full request URL. Each entry keeps the time it was fetched, so a page that
    may still change (today's announcement) is a miss once older than ``max_age``; a page
    that cannot change is read with ``max_age=None`` and kept until ``--refresh``.
    """

    SUBDIR = "arxiv"

    def __init__(self, cache_dir: str | Path) -> None:
        self.directory = Path(cache_dir) / self.SUBDIR
        self._cache = _open(self.directory, 2**32, "the arXiv page cache")

    def get(self, key: str, max_age: float | None, now: float) -> str | None:
        try:
            raw = self._cache.get(key)
            entry: Any = json.loads(raw) if raw is not None else None
            text, fetched_at = entry["text"], float(entry["fetched_at"])
        except Exception:  # absent, corrupt or from another version: a miss
            return None
        if max_age is not None and now - fetched_at > max_age:
            return None
        return text if isinstance(text, str) else None

    def set(self, key: str, text: str, now: float) -> None:
        try:
            self._cache.set(key, json.dumps({"v": ENTRY_VERSION, "fetched_at": now, "text": text}, ensure_ascii=False))
        except Exception as exc:
            log.warning("could not cache arXiv page %s (%s)", key, exc)

    def stats(self) -> dict[str, Any]:
        return {"path": str(self.directory), "pages": len(self._cache), "size_bytes": self._cache.volume()}

    def clear(self) -> int:
        return self._cache.clear()

    def close(self) -> None:
        self._cache.close()


# ---------------------------------------------------------------- the public cache API
def cache_location(cache_dir: str | Path | None = None) -> Path:
    """The cache folder in use: ``cache_dir`` if given, else the configured one (``PAPER_AGENT_CACHE_DIR``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Settings.load().cache_dir


def cache_stats(cache_dir: str | Path | None = None) -> dict[str, Any]:
    """Size and entry counts of the result cache, with the arXiv page cache under ``arxiv_pages``."""
    directory = cache_location(cache_dir)
    results, pages = ResultCache(directory), PageCache(directory)
    try:
        stats = results.stats()
        stats["arxiv_pages"] = pages.stats()
        return stats
    finally:
        results.close()
        pages.close()


def clear_cache(cache_dir: str | Path | None = None) -> tuple[int, int]:
    """Delete every cached result and fetched arXiv page; returns ``(results, pages)`` removed.

    A cache whose database cannot be read at all is reset (its files deleted, with a warning)
    and counts 0: this is the way out the ``CacheUnreadable`` message points to.
    """
    directory = cache_location(cache_dir)
    removed: list[int] = []
    for kind in (ResultCache, PageCache):
        try:
            cache = kind(directory)
        except CacheUnreadable:
            _reset(directory / PageCache.SUBDIR if kind is PageCache else directory)
            cache = kind(directory)
        try:
            removed.append(cache.clear())
        finally:
            cache.close()
    return removed[0], removed[1]
