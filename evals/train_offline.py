"""Fit the offline backend's linear model on the dev labels and write the shipped artefact.

    pip install ".[train]"
    python evals/train_offline.py                      # writes agent/data/offline_model.json
    python evals/train_offline.py --out /tmp/m.json    # anywhere else
    python evals/train_offline.py --check              # exit 1 if the shipped file is stale

Only ``evals/dev.jsonl`` and the 40 seed papers (``--no-seeds``: dev alone) are read. The frozen
``test`` set never enters: not for fitting, not for choosing the regularisation, not for the
calibration. Everything below is chosen by stratified 5-fold cross-validation on dev:

1. the regularisation strength ``C`` and class weighting, by mean out-of-fold macro-F1;
2. Platt scaling of the top probability (logistic regression of "was the top label right"
   on its logit), fitted on the out-of-fold predictions, so the confidence means what it says
   on papers the model did not see;
3. the probability above which another label is reported as secondary, by out-of-fold
   label-set F1.

The result is deterministic (fixed folds, lbfgs, weights rounded to 5 decimals), so the test
suite can rebuild it and compare with what ships.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.backends.linear import featurize  # noqa: E402
from agent.backends.offline import OFFLINE_VERSION, OfflineBackend  # noqa: E402
from agent.evaluate.dataset import DatasetItem, dataset_papers, load_dataset  # noqa: E402
from agent.evaluate.stats import label_set_f1, macro_f1  # noqa: E402
from agent.taxonomy import load_taxonomy  # noqa: E402

DEV = ROOT / "evals" / "dev.jsonl"
SEEDS = ROOT / "evals" / "seed_dataset.jsonl"
OUT = ROOT / "agent" / "data" / "offline_model.json"
SEED = 13
MIN_DF = 2
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
CLASS_WEIGHTS = (None, "balanced")
# Features whose weights are all below this are dropped from the artefact: a fifth of them, for
# a 15% faster backend; on the 1,856 pool papers in neither split the primary label of every
# paper was unchanged and no confidence moved by more than 0.006.
PRUNE = 0.01
SECONDARY_GRID = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.01)


def load_items(with_seeds: bool) -> list[DatasetItem]:
    items = load_dataset(DEV)
    if with_seeds:
        seen = {it.id for it in items}
        items += [it for it in load_dataset(SEEDS) if it.id not in seen]
    return items


def features(items: list[DatasetItem]) -> list[dict[str, float]]:
    """The same features the backend computes at run time (one shared ``featurize``)."""
    cue_scorer = OfflineBackend(load_taxonomy(), learned=False)
    out = []
    for paper in dataset_papers(items):
        comps, _ = cue_scorer.cue_components(paper)
        out.append(featurize(paper.title, paper.abstract, comps))
    return out


def _vectorize(train: list[dict[str, float]], other: list[dict[str, float]] | None = None):  # type: ignore[no-untyped-def]
    """A sparse matrix over the features seen in at least MIN_DF training papers."""
    from scipy.sparse import csr_matrix

    df: dict[str, int] = {}
    for f in train:
        for name in f:
            df[name] = df.get(name, 0) + 1
    vocab = sorted(name for name, n in df.items() if n >= MIN_DF)
    index = {name: i for i, name in enumerate(vocab)}

    def build(rows: list[dict[str, float]]):  # type: ignore[no-untyped-def]
        data, cols, ptr = [], [], [0]
        for f in rows:
            for name in sorted(f):
                j = index.get(name)
                if j is not None:
                    cols.append(j)
                    data.append(f[name])
            ptr.append(len(cols))
        return csr_matrix((data, cols, ptr), shape=(len(rows), len(vocab)))

    return vocab, build(train), (build(other) if other is not None else None)


def _fit(X, y, c: float, class_weight: str | None):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    # newton-cg converges in ~10 steps on this problem (lbfgs needs ~150) to a tight optimum,
    # so the weights do not depend on where an iterative solver happened to stop.
    return LogisticRegression(C=c, class_weight=class_weight, solver="newton-cg", max_iter=1000, tol=1e-10).fit(X, y)


def out_of_fold(feats, y, labels, c, class_weight):  # type: ignore[no-untyped-def]
    """Out-of-fold probability rows (in ``labels`` order) from stratified 5-fold CV."""
    from sklearn.model_selection import StratifiedKFold

    probs: list[list[float]] = [[] for _ in y]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)
    for train_idx, test_idx in folds.split(feats, y):
        _, X_train, X_test = _vectorize([feats[i] for i in train_idx], [feats[i] for i in test_idx])
        model = _fit(X_train, [y[i] for i in train_idx], c, class_weight)
        order = [list(model.classes_).index(lab) for lab in labels]
        for i, row in zip(test_idx, model.predict_proba(X_test)):
            probs[i] = [float(row[k]) for k in order]
    return probs


def _label_set_f1(items: list[DatasetItem], probs: list[list[float]], labels: list[str], cut: float) -> float:
    """Out-of-fold label-set F1 if labels with probability >= ``cut`` were reported as secondary."""
    pred_sets = []
    for row in probs:
        top = labels[max(range(len(row)), key=lambda k: row[k])]
        pred_sets.append({top} | {lab for lab, p in zip(labels, row) if lab not in (top, "other") and p >= cut})
    return label_set_f1([{it.primary, *it.secondary} for it in items], pred_sets)


def train(with_seeds: bool = True, log=print) -> dict:  # type: ignore[no-untyped-def]
    """Choose hyper-parameters by CV on dev, calibrate out of fold, fit on all of dev."""
    from threadpoolctl import threadpool_limits

    # One BLAS thread: on a small sparse problem more threads only contend (30x slower on
    # a busy 2-core machine), and a fixed thread count keeps the floating-point sums stable.
    with threadpool_limits(limits=1):
        return _train(with_seeds, log)


def _train(with_seeds: bool, log) -> dict:  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    taxonomy = load_taxonomy()
    labels = taxonomy.names
    items = load_items(with_seeds)
    feats = features(items)
    y = [it.primary for it in items]

    best = None
    for class_weight in CLASS_WEIGHTS:
        for c in C_GRID:
            probs = out_of_fold(feats, y, labels, c, class_weight)
            pred = [labels[max(range(len(r)), key=lambda k: r[k])] for r in probs]
            f1 = macro_f1(y, pred, labels)
            acc = sum(p == g for p, g in zip(pred, y)) / len(y)
            log(f"cv  C={c:<5} class_weight={class_weight!s:<8}  macro-F1 {f1:.3f}  accuracy {acc:.3f}")
            if best is None or f1 > best[0] + 1e-9:
                best = (f1, acc, c, class_weight, probs)
    assert best is not None
    f1, acc, c, class_weight, probs = best
    log(f"chosen C={c} class_weight={class_weight} (out-of-fold macro-F1 {f1:.3f}, accuracy {acc:.3f})")

    # Platt scaling of the top probability, on out-of-fold predictions.
    tops = [max(r) for r in probs]
    right = [int(labels[r.index(max(r))] == g) for r, g in zip(probs, y)]
    logits = [[math.log(min(max(p, 1e-6), 1 - 1e-6) / (1 - min(max(p, 1e-6), 1 - 1e-6)))] for p in tops]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logits, right)
    a, b = float(platt.coef_[0][0]), float(platt.intercept_[0])
    log(f"calibration: Platt a={a:.4f} b={b:.4f}")

    cut = max(SECONDARY_GRID, key=lambda t: (_label_set_f1(items, probs, labels, t), -t))
    log(f"secondary threshold {cut} (out-of-fold label-set F1 {_label_set_f1(items, probs, labels, cut):.3f})")

    vocab, X, _ = _vectorize(feats)
    model = _fit(X, y, c, class_weight)
    order = [list(model.classes_).index(lab) for lab in labels]
    weights = {}
    for j, name in enumerate(vocab):
        row = [round(float(model.coef_[k][j]), 5) for k in order]
        if any(abs(w) >= PRUNE for w in row):
            weights[name] = row
    log(f"fitted on {len(items)} papers, {len(vocab)} features, {len(weights)} kept")
    return {
        "version": OFFLINE_VERSION,
        "labels": labels,
        "taxonomy": taxonomy.tag,
        "trained_on": ["dev", *(["seeds"] if with_seeds else [])],
        "n_train": len(items),
        "hyperparameters": {"C": c, "class_weight": class_weight, "min_df": MIN_DF, "cv_folds": 5, "cv_seed": SEED},
        "cv": {"macro_f1": round(f1, 4), "accuracy": round(acc, 4)},
        "calibration": {"method": "platt", "a": round(a, 5), "b": round(b, 5)},
        "secondary_threshold": cut,
        "intercept": [round(float(model.intercept_[k]), 5) for k in order],
        "weights": weights,
    }


def dumps(model: dict) -> str:
    """The artefact's exact bytes: sorted keys, one feature per line (readable diffs)."""
    head = {k: v for k, v in model.items() if k != "weights"}
    lines = ["{"]
    for key in sorted(head):
        lines.append(f"  {json.dumps(key)}: {json.dumps(head[key], sort_keys=True)},")
    lines.append('  "weights": {')
    names = sorted(model["weights"])
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 else ""
        lines.append(f"    {json.dumps(name)}: {json.dumps(model['weights'][name])}{comma}")
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


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
