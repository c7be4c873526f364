"""The statistics the eval reports: pure functions of labels, confidences and correctness.

Classification (accuracy, per-class precision/recall/F1, macro-F1, label-set F1, Cohen's kappa),
uncertainty (percentile and paired bootstrap, exact McNemar) and calibration (confidence bins,
ECE, coverage). Nothing here knows about papers, results or datasets, so each function can be
checked against numbers worked out by hand, and the training and agreement scripts in
``evals/`` use the same definitions as the reports.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

N_BINS = 10
COVERAGE_SET_ASIDE: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)

# --------------------------------------------------------------------------- classification


def accuracy(gold: Sequence[str], pred: Sequence[str | None]) -> float:
    """Share of papers whose predicted primary label equals the gold one (None never does)."""
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    return sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0


def present_labels(gold: Iterable[str], pred: Iterable[str | None], order: Sequence[str] = ()) -> list[str]:
    """Labels seen in gold or predictions, in ``order`` first and then alphabetically."""
    seen = set(gold) | {p for p in pred if p is not None}
    return [lab for lab in order if lab in seen] + sorted(seen - set(order))


class ClassMetrics(BaseModel):
    """Precision, recall and F1 of one label, treating it as the positive class."""

    label: str
    precision: float = Field(description="Right among papers predicted as this label (0 if none)")
    recall: float = Field(description="Found among papers whose gold label is this one (0 if none)")
    f1: float = Field(description="Harmonic mean of precision and recall (0 if both are 0)")
    support: int = Field(description="Papers whose gold primary label is this one")
    predicted: int = Field(description="Papers predicted as this label")
    f1_ci_low: float | None = Field(
        default=None, description="Lower end of the 95% percentile bootstrap CI of F1 (None if not computed)"
    )
    f1_ci_high: float | None = Field(
        default=None, description="Upper end of the 95% percentile bootstrap CI of F1 (None if not computed)"
    )


def per_class(
    gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str] | None = None
) -> dict[str, ClassMetrics]:
    """One-vs-rest counts per label; an empty denominator gives 0, as scikit-learn does."""
    out: dict[str, ClassMetrics] = {}
    for lab in labels if labels is not None else present_labels(gold, pred):
        tp = sum(g == lab and p == lab for g, p in zip(gold, pred))
        n_pred = sum(p == lab for p in pred)
        support = sum(g == lab for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[lab] = ClassMetrics(label=lab, precision=precision, recall=recall, f1=f1, support=support, predicted=n_pred)
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str] | None = None) -> float:
    """Unweighted mean F1 over ``labels`` (default: every label in gold or predictions).

    Macro, not micro: with 15 `other` papers and 3 `debiasing` ones, a model that never says
    `debiasing` should be visibly worse, which accuracy alone hides.
    """
    stats = per_class(gold, pred, labels)
    return sum(s.f1 for s in stats.values()) / len(stats) if stats else 0.0


def per_class_f1_ci(
    gold: Sequence[str],
    pred: Sequence[str | None],
    labels: Sequence[str],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap CI of each label's F1, resampling papers exactly as ``bootstrap_ci`` does.

    One pass per resample counts every label at once, so the cost does not grow with the
    number of labels; the draws are the ones ``bootstrap_ci(pairs, ..., seed=seed)`` makes.
    A resample in which a label is neither gold nor predicted has no F1 for it (0/0) and is
    skipped for that label, as the macro-F1 bootstrap skips absent labels; scoring it 0 would
    drag a rare label's interval down to 0 for no reason. A label with 5 gold papers still gets
    a wide interval, which is the point: a per-label F1 from 5 papers says little. Labels with
    no defined resample are left out of the result.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    if not gold:
        raise ValueError("bootstrap of no samples")
    rng = random.Random(seed)
    pairs = list(zip(gold, pred))
    stats: dict[str, list[float]] = {lab: [] for lab in labels}
    for _ in range(n_boot):
        sample = rng.choices(pairs, k=len(pairs))
        for lab, f1 in _f1_by_label(sample, labels).items():
            stats[lab].append(f1)
    alpha = (1 - level) / 2
    return {lab: (quantile(s, alpha), quantile(s, 1 - alpha)) for lab, s in stats.items() if s}


def _f1_by_label(pairs: Sequence[tuple[str, str | None]], labels: Sequence[str]) -> dict[str, float]:
    """F1 of every label that occurs (as gold or prediction) in ``pairs``, from one pass over them."""
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    # Count distinct (gold, pred) pairs first (in C): at most labels^2 of them, however many papers.
    for (g, p), k in Counter(pairs).items():
        n_gold[g] += k
        if p is not None:
            n_pred[p] += k
            tp[p] += k if g == p else 0
    # F1 = 2TP / (gold + predicted): the same number as 2PR / (P + R), 0 when TP is 0.
    return {lab: 2 * tp[lab] / (n_gold[lab] + n_pred[lab]) for lab in labels if n_gold[lab] + n_pred[lab]}


def cohen_kappa(a: Sequence[str | None], b: Sequence[str | None]) -> float:
    """Cohen's kappa: agreement between two labellings beyond what their label shares give by chance.

    kappa = (p_o - p_e) / (1 - p_e) with p_o the observed agreement and p_e the agreement expected
    from each side's label frequencies. It puts a backend against gold on the same scale as two
    human annotators against each other, which raw accuracy does not (accuracy rewards guessing
    the most common label). ``None`` (no answer) is a category of its own. When chance agreement
    is already 1 (both sides use one and the same label) the result is 1.0.
    """
    if len(a) != len(b):
        raise ValueError("labellings differ in length")
    if not a:
        raise ValueError("kappa of no papers")
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    count_a, count_b = Counter(a), Counter(b)
    p_e = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    return 1.0 if p_e >= 1.0 else (p_o - p_e) / (1 - p_e)


def label_set_f1(gold_sets: Sequence[set[str]], pred_sets: Sequence[set[str]]) -> float:
    """Micro-F1 of predicted {primary}+secondary against gold {primary}+secondary, summed over papers."""
    tp = sum(len(g & p) for g, p in zip(gold_sets, pred_sets))
    fp = sum(len(p - g) for g, p in zip(gold_sets, pred_sets))
    fn = sum(len(g - p) for g, p in zip(gold_sets, pred_sets))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


# --------------------------------------------------------------------------- uncertainty


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default), so reports match a numpy re-check."""
    if not values:
        raise ValueError("quantile of no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def bootstrap_ci(
    samples: Sequence[T],
    statistic: Callable[[Sequence[T]], float],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI: resample papers with replacement using ``random.Random(seed)``.

    Seeded so the same saved run always reports the same interval. With 40 papers the interval
    is wide; that is the honest answer to "is 0.70 really better than 0.65?".
    """
    if not samples:
        raise ValueError("bootstrap of no samples")
    rng = random.Random(seed)
    n = len(samples)
    stats = [statistic(rng.choices(samples, k=n)) for _ in range(n_boot)]
    alpha = (1 - level) / 2
    return quantile(stats, alpha), quantile(stats, 1 - alpha)


def paired_bootstrap_diff(
    a_correct: Sequence[bool],
    b_correct: Sequence[bool],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """CI for accuracy(B) - accuracy(A), resampling papers as pairs (same papers in both runs)."""
    if len(a_correct) != len(b_correct):
        raise ValueError("paired samples differ in length")
    pairs = list(zip(a_correct, b_correct))

    def diff(s: Sequence[tuple[bool, bool]]) -> float:
        return sum(b for _, b in s) / len(s) - sum(a for a, _ in s) / len(s)

    return bootstrap_ci(pairs, diff, n_boot=n_boot, seed=seed, level=level)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: a binomial(b+c, 1/2) test on the discordant papers only.

    ``b`` = papers A got right and B wrong, ``c`` = the reverse. Papers both got right or both
    got wrong say nothing about which run is better, so they do not enter.
    """
    if b < 0 or c < 0:
        raise ValueError("counts must be non-negative")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / (1 << n))


# --------------------------------------------------------------------------- calibration


class CalibrationBin(BaseModel):
    """Papers whose confidence falls in [lo, hi) (the last bin includes 1.0)."""

    lo: float
    hi: float
    count: int
    mean_confidence: float | None = Field(description="None when the bin is empty")
    accuracy: float | None = Field(description="None when the bin is empty")


class CoveragePoint(BaseModel):
    """Accuracy on the papers kept after setting aside the least confident share."""

    set_aside: float = Field(description="Share of papers set aside, lowest confidence first")
    kept: int
    accuracy: float | None = Field(description="Accuracy on the kept papers; None if none kept")
    min_confidence: float | None = Field(description="Lowest confidence among the kept papers")


def _bin_index(confidence: float, n_bins: int) -> int:
    # round() absorbs float noise such as 0.3 * 10 = 3.0000000000000004.
    return min(max(int(round(confidence * n_bins, 9)), 0), n_bins - 1)


def calibration_table(
    confidences: Sequence[float], correct: Sequence[bool], n_bins: int = N_BINS
) -> list[CalibrationBin]:
    """Equal-width confidence bins over [0, 1] with count, mean confidence and accuracy."""
    members: list[list[int]] = [[] for _ in range(n_bins)]
    for i, conf in enumerate(confidences):
        members[_bin_index(conf, n_bins)].append(i)
    table = []
    for b, idx in enumerate(members):
        table.append(
            CalibrationBin(
                lo=b / n_bins,
                hi=(b + 1) / n_bins,
                count=len(idx),
                mean_confidence=sum(confidences[i] for i in idx) / len(idx) if idx else None,
                accuracy=sum(correct[i] for i in idx) / len(idx) if idx else None,
            )
        )
    return table


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = N_BINS) -> float:
    """ECE = sum over bins of (bin count / n) * |bin accuracy - bin mean confidence|.

    0 means "when it says 0.8 it is right 80% of the time"; it is what makes a confidence
    threshold for manual review trustworthy.
    """
    n = len(confidences)
    if n == 0:
        return 0.0
    return sum(
        b.count / n * abs(b.accuracy - b.mean_confidence)  # type: ignore[operator]
        for b in calibration_table(confidences, correct, n_bins)
        if b.count
    )


def coverage_curve(
    confidences: Sequence[float],
    correct: Sequence[bool],
    set_aside: Sequence[float] = COVERAGE_SET_ASIDE,
) -> list[CoveragePoint]:
    """Accuracy after setting aside the floor(share * n) least confident papers.

    Ties in confidence keep dataset order, so the curve does not depend on chance. If
    confidence means anything, accuracy rises as more is set aside.
    """
    n = len(confidences)
    order = sorted(range(n), key=lambda i: confidences[i])
    points = []
    for share in set_aside:
        kept = order[math.floor(share * n + 1e-9) :]
        points.append(
            CoveragePoint(
                set_aside=share,
                kept=len(kept),
                accuracy=sum(correct[i] for i in kept) / len(kept) if kept else None,
                min_confidence=confidences[kept[0]] if kept else None,
            )
        )
    return points
