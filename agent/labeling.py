"""Hand labelling, as a pure state machine: which paper comes next, what a key does, what is written.

``paper-agent label`` draws this on a terminal (``agent/cli/label_ui.py``); everything that
decides something lives here, so it is tested without a terminal:

- :func:`select` orders the papers and records how each was picked (``uncertain:rank 3``,
  ``random:seed 7 #12``, ``input:#4``). The order depends only on the inputs, the guesses and
  the seed, so a second run (resume) and anyone re-drawing a sample get the same one.
- :class:`LabelSession` holds the position, the pending secondary labels and note, and the
  undo history. Each label is appended to the output file and flushed at once, so a killed
  session loses nothing; undo removes the row again. Papers already in the output file are
  skipped: re-running with the same ``-o`` resumes.

The rows are the dataset format ``eval --dataset`` and ``train --dataset`` read
(:class:`~agent.evaluate.dataset.DatasetItem`).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.errors import ConfigError, DatasetError, OutputError
from agent.evaluate.dataset import DatasetItem
from agent.jsonl import read_jsonl
from agent.pipeline import Agent
from agent.schema import Paper
from agent.taxonomy import Taxonomy

ORDERS = ("uncertain", "random", "input")
# Command keys; label keys are the digits, then the letters not taken here.
KEY_SECONDARY, KEY_NOTE, KEY_SKIP, KEY_UNDO, KEY_QUIT = "s", "n", "x", "u", "q"
RESERVED = frozenset("snxuqjk")  # j/k scroll the abstract in the terminal UI


@dataclass(frozen=True)
class Candidate:
    """A paper to label, the backend's guess for it, and how it was selected."""

    paper: Paper
    guess: str
    confidence: float
    selection: str


def label_keys(taxonomy: Taxonomy) -> dict[str, str]:
    """One key per label, in taxonomy order: ``1``..``9``, then letters not used by a command."""
    pool = [*"123456789", *(c for c in "abcdefghijklmnopqrstuvwxyz" if c not in RESERVED)]
    if len(taxonomy.names) > len(pool):
        raise ConfigError(f"taxonomy {taxonomy.name}: {len(taxonomy.names)} labels, at most {len(pool)} can be keyed")
    return dict(zip(pool, taxonomy.names))


def select(
    papers: Sequence[Paper], confidences: Sequence[float], order: str = "uncertain", seed: int = 0
) -> list[tuple[int, str]]:
    """The labelling order as ``(index into papers, selection note)``.

    ``uncertain``: least confident guess first (ties: input order), for training labels that
    teach the model most. ``random``: a shuffle by ``seed``, for an unbiased evaluation set
    (take the first N). ``input``: as given.
    """
    n = len(papers)
    if order == "uncertain":
        ranked = sorted(range(n), key=lambda i: (confidences[i], i))
        return [(i, f"uncertain:rank {r}") for r, i in enumerate(ranked, start=1)]
    if order == "random":
        shuffled = random.Random(seed).sample(range(n), n)
        return [(i, f"random:seed {seed} #{r}") for r, i in enumerate(shuffled, start=1)]
    if order == "input":
        return [(i, f"input:#{r}") for r, i in enumerate(range(n), start=1)]
    raise ConfigError(f"--order {order!r}: expected one of {', '.join(ORDERS)}")


def candidates(papers: Iterable[Paper], agent: Agent, order: str = "uncertain", seed: int = 0) -> list[Candidate]:
    """The papers with an abstract (first of each id), guessed by ``agent``, in labelling order."""
    seen: set[str] = set()
    kept: list[Paper] = []
    for p in papers:
        if p.abstract.strip() and p.id not in seen:
            seen.add(p.id)
            kept.append(p)
    results = list(agent.analyze_many(kept))
    guesses = [(r.primary or "", r.confidence if r.status == "ok" else 0.0) for r in results]
    return [
        Candidate(kept[i], guesses[i][0], guesses[i][1], note)
        for i, note in select(kept, [c for _, c in guesses], order, seed)
    ]


def labelled_ids(path: Path) -> list[str]:
    """Ids already in the output file (resume); a missing or empty file has none."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    return [item.id for _, item in read_jsonl(path, DatasetItem, "labels", DatasetError)]


@dataclass
class LabelSession:
    """Labelling state: the queue, where we are, pending secondary labels / note, undo history."""

    queue: list[Candidate]
    taxonomy: Taxonomy
    out: Path
    already: int = 0
    pos: int = 0
    secondary: list[str] = field(default_factory=list)
    note: str = ""
    history: list[tuple[int, str]] = field(default_factory=list)  # (position, "label" | "skip")
    awaiting_secondary: bool = False

    @classmethod
    def open(cls, ordered: list[Candidate], taxonomy: Taxonomy, out: str | Path) -> LabelSession:
        """A session over ``ordered`` that skips what ``out`` already holds (resume)."""
        path = Path(out)
        if path.is_dir():
            raise OutputError(f"{path}: is a folder, expected the labels JSONL file")
        done = set(labelled_ids(path))
        queue = [c for c in ordered if c.paper.id not in done]
        return cls(queue=queue, taxonomy=taxonomy, out=path, already=len(ordered) - len(queue))

    @property
    def current(self) -> Candidate | None:
        return self.queue[self.pos] if self.pos < len(self.queue) else None

    @property
    def labelled(self) -> int:
        """Papers labelled in this session (undone ones not counted)."""
        return sum(kind == "label" for _, kind in self.history)

    def label(self, name: str) -> DatasetItem:
        """Give the current paper primary label ``name``; the row is written and flushed now."""
        cand = self.current
        if cand is None:
            raise ConfigError("nothing left to label")
        if name not in self.taxonomy.names:
            raise ConfigError(f"{name!r} is not a label of taxonomy {self.taxonomy.name}")
        p = cand.paper
        item = DatasetItem(
            id=p.id,
            title=p.title,
            abstract=p.abstract,
            authors=list(p.authors),
            url=p.url,
            digest_summary=p.digest_summary,
            primary=name,
            secondary=[s for s in self.secondary if s != name],
            notes=self.note,
            selection=cand.selection,
        )
        self._append(item)
        self.history.append((self.pos, "label"))
        self._advance()
        return item

    def toggle_secondary(self, name: str) -> None:
        """Add ``name`` to the pending secondary labels of the current paper, or take it away."""
        if name in self.secondary:
            self.secondary.remove(name)
        else:
            self.secondary.append(name)

    def skip(self) -> None:
        """Leave the current paper unlabelled (it comes back in the next session)."""
        if self.current is not None:
            self.history.append((self.pos, "skip"))
            self._advance()

    def undo(self) -> bool:
        """Step back one paper; a label given to it is removed from the file. False: nothing to undo."""
        if not self.history:
            return False
        pos, kind = self.history.pop()
        self.pos = pos
        self.secondary, self.note, self.awaiting_secondary = [], "", False
        if kind == "label":
            row = self._remove(self.queue[pos].paper.id)
            if row is not None:
                self.secondary, self.note = list(row.secondary), row.notes
        return True

    def press(self, key: str) -> str:
        """Apply one key; returns what happened (``label``, ``secondary``, ``note``, ``skip``,
        ``undo``, ``quit``, ``await-secondary`` or ``ignored``). ``note`` asks the UI for the text."""
        keys = label_keys(self.taxonomy)
        if self.awaiting_secondary:
            self.awaiting_secondary = False
            if key in keys:
                self.toggle_secondary(keys[key])
                return "secondary"
            return "ignored"
        if key == KEY_QUIT:
            return "quit"
        if key == KEY_UNDO:
            return "undo" if self.undo() else "ignored"
        if self.current is None:
            return "ignored"
        if key in keys:
            self.label(keys[key])
            return "label"
        if key == KEY_SECONDARY:
            self.awaiting_secondary = True
            return "await-secondary"
        if key == KEY_SKIP:
            self.skip()
            return "skip"
        return "note" if key == KEY_NOTE else "ignored"

    # ------------------------------------------------------------------ file
    def _advance(self) -> None:
        self.pos += 1
        self.secondary, self.note, self.awaiting_secondary = [], "", False

    def _append(self, item: DatasetItem) -> None:
        line = json.dumps(item.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            with self.out.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
        except OSError as exc:
            raise OutputError(f"{self.out}: cannot write labels ({exc.strerror or exc})") from None

    def _remove(self, paper_id: str) -> DatasetItem | None:
        """Drop the last row for ``paper_id`` from the file (atomically); returns it."""
        lines = self.out.read_text(encoding="utf-8").splitlines(keepends=True)
        for k in range(len(lines) - 1, -1, -1):
            if lines[k].strip() and json.loads(lines[k]).get("id") == paper_id:
                row = DatasetItem.model_validate_json(lines[k])
                tmp = self.out.with_name(self.out.name + ".tmp")
                tmp.write_text("".join(lines[:k] + lines[k + 1 :]), encoding="utf-8")
                os.replace(tmp, self.out)
                return row
        return None
