"""Merge the hand labels with the pool's metadata and split them into ``dev`` and ``test``.

    python evals/scripts/build_splits.py LABELS_DIR POOL.jsonl

LABELS_DIR holds the queues (``queue.jsonl``, ``supplement.jsonl``, ``supplement2.jsonl``: what was
selected and why)
and the labellers' files (``batch_*.labels.jsonl``: id, primary, secondary, notes,
reference_tldr). Writes ``evals/dev.jsonl``, ``evals/test.jsonl`` and
``evals/provenance.csv`` (id, selection stratum, split).

The split is stratified by the gold primary label and random within each label, with a fixed
seed: half of each label goes to test, and never fewer than ``MIN_TEST`` papers, so every label
has enough test support for a per-label recall with a usable interval. The test set is frozen
once written: nothing is fitted, tuned or cue-edited while looking at its errors.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED = 9
TEST_SHARE = 0.5
MIN_TEST = 30
LABELS = ("rag", "generative_rec", "rl_rec", "debiasing", "other")


def abstract_key(abstract: str) -> str:
    """An abstract with case, every whitespace character and a final period ignored: the same
    paper posted twice differs in no more (``https: //github.com/x`` against ``https://...``)."""
    return "".join(abstract.lower().split()).rstrip(".")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main(labels_dir: str, pool_path: str) -> None:
    folder = Path(labels_dir)
    pool = {p["id"]: p for p in read_jsonl(Path(pool_path))}
    strata: dict[str, str] = {}
    for queue in ("queue.jsonl", "supplement.jsonl", "supplement2.jsonl"):
        for row in read_jsonl(folder / queue):
            strata[row["id"]] = row["stratum"]
    labels: dict[str, dict] = {}
    for path in sorted(folder.glob("batch_*.labels.jsonl")):
        for row in read_jsonl(path):
            if row["id"] in labels:
                raise SystemExit(f"{path}: {row['id']} labelled twice")
            labels[row["id"]] = row
    # Settled disagreements between labellers (see the file's _rule): the adjudicated label wins.
    adjudicated = json.loads((ROOT / "evals" / "scripts" / "adjudications.json").read_text(encoding="utf-8"))
    for pid, fix in adjudicated.items():
        if not pid.startswith("_"):
            labels[pid] = {**labels[pid], **fix}
    missing = set(strata) - set(labels)
    if missing:
        raise SystemExit(f"{len(missing)} queued papers have no label, e.g. {sorted(missing)[:3]}")

    items = []
    seen_abstracts: dict[str, str] = {}
    for pid in sorted(labels):
        lab, paper = labels[pid], pool[pid]
        # The same paper under two ids would leak between dev and test: keep the first.
        key = " ".join(paper["abstract"].lower().split())
        if key in seen_abstracts:
            print(f"{pid}: same abstract as {seen_abstracts[key]}, left out", file=sys.stderr)
            continue
        seen_abstracts[key] = pid
        if lab["primary"] not in LABELS or any(s not in LABELS or s == lab["primary"] for s in lab["secondary"]):
            raise SystemExit(f"{pid}: bad labels {lab['primary']!r} {lab['secondary']!r}")
        items.append(
            {
                "id": pid,
                "title": paper["title"],
                "authors": paper["authors"],
                "abstract": paper["abstract"],
                "url": f"https://arxiv.org/abs/{pid}",
                "primary": lab["primary"],
                "secondary": [s for s in LABELS if s in lab["secondary"]],
                "reference_tldr": lab.get("reference_tldr", "").strip(),
                "notes": lab.get("notes", "").strip(),
            }
        )

    rng = random.Random(SEED)
    split: dict[str, str] = {}
    for label in LABELS:
        ids = sorted(it["id"] for it in items if it["primary"] == label)
        rng.shuffle(ids)
        n_test = min(len(ids), max(MIN_TEST, math.ceil(len(ids) * TEST_SHARE)))
        for i, pid in enumerate(ids):
            split[pid] = "test" if i < n_test else "dev"
    # Disagreements the second pass found, and labels corrected by rules the guide gained later
    # (adjudications' "_after_split"), settled after the split so the split stays as drawn.
    settled = json.loads((ROOT / "evals" / "scripts" / "settled.json").read_text(encoding="utf-8"))
    settled.update({k: v for k, v in adjudicated.get("_after_split", {}).items() if not k.startswith("_")})
    for it in items:
        fix = settled.get(it["id"])
        if fix:
            it.update(primary=fix["primary"], secondary=fix["secondary"], notes=fix["notes"])
    # Duplicates the whitespace-blind check below finds (a URL's spacing, a final period) were
    # missed before the split: their dev copy is dropped, so the frozen test split stays whole.
    seen_after: dict[str, str] = {}
    for it in sorted(items, key=lambda it: (split[it["id"]] != "test", it["id"])):
        key = abstract_key(it["abstract"])
        if key in seen_after:
            print(f"{it['id']}: same abstract as {seen_after[key]} (whitespace aside), left out", file=sys.stderr)
            del split[it["id"]]
        seen_after.setdefault(key, it["id"])
    items = [it for it in items if it["id"] in split]
    for name in ("dev", "test"):
        with open(ROOT / "evals" / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for it in items:
                if split[it["id"]] == name:
                    f.write(json.dumps(it, ensure_ascii=False) + "\n")
    with open(ROOT / "evals" / "provenance.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "stratum", "split", "pool_source"])
        for it in items:
            writer.writerow([it["id"], strata[it["id"]], split[it["id"]], pool[it["id"]]["source"]])
    for name in ("dev", "test"):
        counts = {lab: sum(1 for it in items if split[it["id"]] == name and it["primary"] == lab) for lab in LABELS}
        refs = sum(1 for it in items if split[it["id"]] == name and it["reference_tldr"])
        print(name, sum(counts.values()), counts, f"reference TL;DRs: {refs}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
