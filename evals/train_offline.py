"""Fit the offline backend's linear model on the dev labels and write the shipped artefact.

    pip install ".[train]"
    python evals/train_offline.py                      # writes agent/data/offline_model.json
    python evals/train_offline.py --out /tmp/m.json    # anywhere else
    python evals/train_offline.py --check              # exit 1 if the shipped file is stale

A thin call of the package's one recipe (``agent.training``, also ``paper-agent train``): the
same as ``paper-agent train --dataset evals/dev.jsonl --dataset evals/seed_dataset.jsonl -o FILE``.
Only ``evals/dev.jsonl`` and the 40 seed papers (``--no-seeds``: dev alone) are read. The frozen
``test`` set never enters: not for fitting, not for choosing the regularisation, not for the
calibration (see ``agent/training.py`` for what cross-validation chooses).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.training import PRUNE, dumps, train_model  # noqa: E402

DEV = ROOT / "evals" / "dev.jsonl"
SEEDS = ROOT / "evals" / "seed_dataset.jsonl"
OUT = ROOT / "agent" / "data" / "offline_model.json"
__all__ = ["PRUNE", "train", "dumps", "main"]


def train(with_seeds: bool = True, log=print) -> dict:  # type: ignore[no-untyped-def]
    """The shipped model's recipe: dev (+ the seeds), the built-in taxonomy."""
    return train_model([DEV, *([SEEDS] if with_seeds else [])], None, log=log)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--no-seeds", action="store_true", help="fit on dev only (default: dev + the 40 seed papers)")
    parser.add_argument("--check", action="store_true", help="compare with the shipped artefact instead of writing")
    args = parser.parse_args()
    text = dumps(train(with_seeds=not args.no_seeds))
    if args.check:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("shipped model is up to date" if same else f"{OUT} differs from what the training script produces")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
