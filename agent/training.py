"""Fit the offline backend's linear model on hand labels, for any taxonomy.

The one training recipe (``paper-agent train``, ``agent.train_model`` and
``evals/train_offline.py``, which rebuilds the shipped ``agent/data/offline_model.json``).
Everything is chosen by stratified 5-fold cross-validation on the given labels, never on a
held-apart set:

1. the regularisation strength ``C`` and class weighting, by mean out-of-fold macro-F1;
2. Platt scaling of the top probability (logistic regression of "was the top label right"
   on its logit), fitted on the out-of-fold predictions, so the confidence means what it says
   on papers the model did not see;
3. the probability above which another label is reported as secondary, by out-of-fold
   label-set F1.

Features are the taxonomy's cue hits plus title n-grams and abstract words (``featurize``, the
function the backend itself uses). The result is deterministic (fixed folds, newton-cg, one BLAS
thread, weights rounded to 5 decimals), so the same labels give the same file byte for byte.
scikit-learn is imported only here and only when training: the model file is read with the
standard library.
"""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.linear import featurize
from agent.backends.offline import OFFLINE_VERSION, OfflineBackend
from agent.errors import ConfigError, DatasetError
from agent.evaluate.dataset import DatasetItem, check_labels, dataset_papers, load_dataset
from agent.evaluate.runner import BUILTIN_DATASETS, resolve_dataset
from agent.evaluate.stats import label_set_f1, macro_f1
from agent.taxonomy import Taxonomy, load_taxonomy

SEED = 13
FOLDS = 5
MIN_DF = 2
C_GRID = (0.03, 0.1, 0.3, 1.0, 3.0)
CLASS_WEIGHTS = (None, "balanced")
# Features whose weights are all below this are dropped from the artefact: a fifth of them, for
# a 15% faster backend; on the 1,856 pool papers in neither split the primary label of every
# paper was unchanged and no confidence moved by more than 0.006.
PRUNE = 0.01
SECONDARY_GRID = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 1.01)
# Fewer examples than this and a label cannot appear in every CV fold: its scores mean little.
MIN_PER_LABEL = 5
TRAIN_EXTRA = "needs the [train] extra: pip install 'paper-agent[train]'"

Features = list[dict[str, float]]
Log = Callable[[str], None]


@dataclass
class CvScore:
    """Out-of-fold scores of one setting: pooled over all papers, and the spread across folds."""

    macro_f1: float
    accuracy: float
    fold_f1: list[float] = field(default_factory=list)
    fold_acc: list[float] = field(default_factory=list)

    @property
    def spread(self) -> tuple[float, float]:
        """Standard deviation across folds of (macro-F1, accuracy): how much a new split may move them."""
        sd = statistics.pstdev
        return (sd(self.fold_f1) if self.fold_f1 else 0.0, sd(self.fold_acc) if self.fold_acc else 0.0)


def dataset_name(path: str | Path) -> str:
    """The name a dataset is recorded under in ``trained_on``: ``dev``/``seeds`` for the shipped
    splits (wherever they are read from), else the file name."""
    p = Path(path)
    for name, file in BUILTIN_DATASETS.items():
        if p.name == file and p.resolve().read_bytes() == resolve_dataset(name).path.read_bytes():
            return name
    return p.name


def load_training_items(paths: Sequence[str | Path], taxonomy: Taxonomy) -> tuple[list[DatasetItem], list[str]]:
    """The labelled papers of every file, in order; an id seen in an earlier file is skipped."""
    if not paths:
        raise DatasetError("train: give at least one --dataset file")
    items: list[DatasetItem] = []
    seen: set[str] = set()
    for path in paths:
        spec = resolve_dataset(path)
        new = load_dataset(spec.path)
        check_labels(new, taxonomy, str(path))
        items += [it for it in new if it.id not in seen]
        seen |= {it.id for it in new}
    return items, [dataset_name(resolve_dataset(p).path) for p in paths]


def features(items: list[DatasetItem], taxonomy: Taxonomy) -> Features:
    """The same features the backend computes at run time (one shared ``featurize``)."""
    cue_scorer = OfflineBackend(taxonomy, learned=False)
    out = []
    for paper in dataset_papers(items):
        comps, _ = cue_scorer.cue_components(paper)
        out.append(featurize(paper.title, paper.abstract, comps))
    return out


def _vectorize(train: Features, other: Features | None = None) -> tuple[list[str], Any, Any]:
    """A sparse matrix over the features seen in at least MIN_DF training papers."""
    from scipy.sparse import csr_matrix

    df: Counter[str] = Counter()
    for f in train:
        df.update(f.keys())
    vocab = sorted(name for name, n in df.items() if n >= MIN_DF)
    index = {name: i for i, name in enumerate(vocab)}

    def build(rows: Features) -> Any:
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


def _fit(X: Any, y: list[str], c: float, class_weight: str | None) -> Any:
    from sklearn.linear_model import LogisticRegression

    # newton-cg converges in ~10 steps on this problem (lbfgs needs ~150) to a tight optimum,
    # so the weights do not depend on where an iterative solver happened to stop.
    return LogisticRegression(C=c, class_weight=class_weight, solver="newton-cg", max_iter=1000, tol=1e-10).fit(X, y)


def _columns(model: Any, labels: list[str]) -> list[int | None]:
    """Where each taxonomy label sits in the model's classes (None: absent from this fit)."""
    classes = list(model.classes_)
    return [classes.index(lab) if lab in classes else None for lab in labels]


def out_of_fold(
    feats: Features, y: list[str], labels: list[str], c: float, class_weight: str | None
) -> tuple[list[list[float]], list[int]]:
    """Out-of-fold probability rows (in ``labels`` order) and each paper's fold, by stratified CV.

    A label missing from a fold's training part (a rare label) gets probability 0 there.
    """
    from sklearn.model_selection import StratifiedKFold

    probs: list[list[float]] = [[] for _ in y]
    fold_of = [0] * len(y)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    for k, (train_idx, test_idx) in enumerate(folds.split(feats, y)):
        _, X_train, X_test = _vectorize([feats[i] for i in train_idx], [feats[i] for i in test_idx])
        model = _fit(X_train, [y[i] for i in train_idx], c, class_weight)
        cols = _columns(model, labels)
        for i, row in zip(test_idx, model.predict_proba(X_test)):
            probs[i] = [float(row[j]) if j is not None else 0.0 for j in cols]
            fold_of[i] = k
    return probs, fold_of


def _top(row: list[float], labels: list[str]) -> str:
    return labels[max(range(len(row)), key=lambda k: row[k])]


def score(y: list[str], probs: list[list[float]], fold_of: list[int], labels: list[str]) -> CvScore:
    """Pooled out-of-fold macro-F1 and accuracy, plus the same per fold (for the spread)."""
    pred = [_top(r, labels) for r in probs]
    result = CvScore(macro_f1(y, pred, labels), sum(p == g for p, g in zip(pred, y)) / len(y))
    for k in sorted(set(fold_of)):
        idx = [i for i, f in enumerate(fold_of) if f == k]
        gold, got = [y[i] for i in idx], [pred[i] for i in idx]
        result.fold_f1.append(macro_f1(gold, got, labels))
        result.fold_acc.append(sum(p == g for p, g in zip(got, gold)) / len(idx))
    return result


def _label_set_f1(
    items: list[DatasetItem], probs: list[list[float]], labels: list[str], fallback: str, cut: float
) -> float:
    """Out-of-fold label-set F1 if labels with probability >= ``cut`` were reported as secondary
    (never the fallback label, as the backend does)."""
    pred_sets = []
    for row in probs:
        top = _top(row, labels)
        pred_sets.append({top} | {lab for lab, p in zip(labels, row) if lab not in (top, fallback) and p >= cut})
    return label_set_f1([{it.primary, *it.secondary} for it in items], pred_sets)


def check_label_counts(y: list[str], labels: list[str], log: Log) -> None:
    """Refuse labels the data never uses (the model could not score them); warn on rare ones."""
    counts = Counter(y)
    missing = [lab for lab in labels if not counts[lab]]
    if missing:
        raise DatasetError(
            f"train: no training example for label(s) {', '.join(missing)}: label some papers with them "
            "or remove them from the taxonomy"
        )
    for lab in labels:
        if counts[lab] < MIN_PER_LABEL:
            log(f"warning: label {lab} has only {counts[lab]} example(s); {MIN_PER_LABEL}+ are needed to learn it")


def _require_sklearn() -> None:
    if importlib.util.find_spec("sklearn") is None or importlib.util.find_spec("threadpoolctl") is None:
        raise ConfigError(f"paper-agent train {TRAIN_EXTRA}")


def train_model(
    datasets: Sequence[str | Path],
    taxonomy: Taxonomy | str | Path | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Fit the offline model on the labelled ``datasets`` for ``taxonomy`` (default: built-in).

    Returns the model as a dict; :func:`dumps` gives the file's exact bytes, which the offline
    backend reads with ``--model-file`` / ``PAPER_AGENT_MODEL_FILE``. ``log`` receives the
    cross-validation report (one line per setting, the chosen one, warnings).
    """
    _require_sklearn()
    from threadpoolctl import threadpool_limits

    tax = taxonomy if isinstance(taxonomy, Taxonomy) else load_taxonomy(taxonomy)
    items, names = load_training_items(datasets, tax)
    # One BLAS thread: on a small sparse problem more threads only contend (30x slower on
    # a busy 2-core machine), and a fixed thread count keeps the floating-point sums stable.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # scikit-learn's "least populated class" warning: check_label_counts says it in one line.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return _train(items, names, tax, log)


def _choose(
    feats: Features, y: list[str], labels: list[str], log: Log
) -> tuple[CvScore, float, str | None, list[list[float]]]:
    """The (C, class weight) with the best out-of-fold macro-F1, its score and its predictions."""
    best: tuple[CvScore, float, str | None, list[list[float]]] | None = None
    for class_weight in CLASS_WEIGHTS:
        for c in C_GRID:
            probs, fold_of = out_of_fold(feats, y, labels, c, class_weight)
            cv = score(y, probs, fold_of, labels)
            log(
                f"cv  C={c:<5} class_weight={class_weight!s:<8}  macro-F1 {cv.macro_f1:.3f}  accuracy {cv.accuracy:.3f}"
            )
            if best is None or cv.macro_f1 > best[0].macro_f1 + 1e-9:
                best = (cv, c, class_weight, probs)
    assert best is not None
    return best


def _platt(probs: list[list[float]], y: list[str], labels: list[str]) -> tuple[float, float]:
    """Platt scaling of the top probability, fitted on out-of-fold predictions."""
    from sklearn.linear_model import LogisticRegression

    tops = [min(max(max(r), 1e-6), 1 - 1e-6) for r in probs]
    right = [int(_top(r, labels) == g) for r, g in zip(probs, y)]
    if len(set(right)) < 2:  # every out-of-fold guess right (or wrong): nothing to calibrate on
        return 1.0, 0.0
    logits = [[math.log(p / (1 - p))] for p in tops]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(logits, right)
    return float(platt.coef_[0][0]), float(platt.intercept_[0])


def _train(items: list[DatasetItem], names: list[str], taxonomy: Taxonomy, log: Log) -> dict[str, Any]:
    labels = taxonomy.names
    feats = features(items, taxonomy)
    y = [it.primary for it in items]
    check_label_counts(y, labels, log)
    if max(Counter(y).values()) < FOLDS:
        raise DatasetError(f"train: {len(items)} labelled papers are too few for {FOLDS}-fold cross-validation")
    cv, c, class_weight, probs = _choose(feats, y, labels, log)
    f1_sd, acc_sd = cv.spread
    log(
        f"chosen C={c} class_weight={class_weight} (out-of-fold macro-F1 {cv.macro_f1:.3f} ± {f1_sd:.3f}, "
        f"accuracy {cv.accuracy:.3f} ± {acc_sd:.3f}; ± is the standard deviation across the {FOLDS} folds)"
    )
    a, b = _platt(probs, y, labels)
    log(f"calibration: Platt a={a:.4f} b={b:.4f}")
    fb = taxonomy.fallback
    cut = max(SECONDARY_GRID, key=lambda t: (_label_set_f1(items, probs, labels, fb, t), -t))
    log(f"secondary threshold {cut} (out-of-fold label-set F1 {_label_set_f1(items, probs, labels, fb, cut):.3f})")

    vocab, X, _ = _vectorize(feats)
    model = _fit(X, y, c, class_weight)
    order = [j for j in _columns(model, labels) if j is not None]
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
        "trained_on": names,
        "n_train": len(items),
        "hyperparameters": {"C": c, "class_weight": class_weight, "min_df": MIN_DF, "cv_folds": FOLDS, "cv_seed": SEED},
        "cv": {"macro_f1": round(cv.macro_f1, 4), "accuracy": round(cv.accuracy, 4)},
        "calibration": {"method": "platt", "a": round(a, 5), "b": round(b, 5)},
        "secondary_threshold": cut,
        "intercept": [round(float(model.intercept_[k]), 5) for k in order],
        "weights": weights,
    }


def dumps(model: dict[str, Any]) -> str:
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
