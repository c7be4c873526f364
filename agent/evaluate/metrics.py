"""Score a run against a labelled dataset: sample -> result -> per-paper score -> metric.

Everything here is a pure function of saved data (results + dataset), so any metric can be
recomputed later from ``results.jsonl`` without calling a model. The small helpers at the top
(``accuracy``, ``macro_f1``, ``bootstrap_ci`` ...) are public so tests can check them against
numbers worked out by hand; ``evaluate`` only wires them together.

One rule runs through all of it: a paper the agent did not answer (no result, or a result
with status invalid/error/skipped) is WRONG, never dropped, so a run cannot look better by
failing on the hard papers.
"""

from __future__ import annotations

import math
import random
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import DatasetError
from agent.evaluate.dataset import DatasetItem, check_labels
from agent.schema import STATUSES, PaperResult
from agent.taxonomy import Taxonomy

T = TypeVar("T")

NO_ANSWER = "invalid/error/skipped"
"""Confusion-matrix column for papers with no usable answer (non-ok status or no result)."""
MISSING = "missing"
"""Status and answer recorded for a dataset paper that has no result at all."""
N_BINS = 10
COVERAGE_SET_ASIDE: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)
MAX_TLDR_WORDS = 50

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


# --------------------------------------------------------------------------- TL;DR

CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
# Atomic group: "3.5x" or "7B" is not a number (it is a term, checked as one), not "3" / "7".
NUMBER_RE = re.compile(r"(?<![\w.])(?>\d+(?:[.,]\d+)*)%?(?!\w)")
_PUNCT = string.punctuation + "“”‘’«»…–—"
_SENTENCE_END = (".", "!", "?", "…")
_LATEX_MARKERS = re.compile(r"[${}]")


def is_english(text: str) -> bool:
    """True for a non-empty text with no Chinese, Japanese or Korean characters."""
    return bool(text.strip()) and not CJK_RE.search(text)


def word_count(text: str) -> int:
    """Words as whitespace-separated tokens, the same rule the labelling guide's limit uses."""
    return len(text.split())


def _digits(number: str) -> str:
    return re.sub(r"\D", "", number)


def _candidate_terms(text: str) -> list[str]:
    """Capitalised words not at sentence start, plus any word with a capital after its first
    character (acronyms, CamelCase names), punctuation stripped from both ends."""
    terms = []
    at_start = True
    for raw in text.split():
        word = raw.strip(_PUNCT)
        starts_sentence = at_start
        at_start = raw.rstrip("\"')]}”’").endswith(_SENTENCE_END)
        if not any(ch.isalpha() for ch in word):
            continue
        if any(ch.isupper() for ch in word[1:]) or (not starts_sentence and word[0].isupper()):
            terms.append(word)
    return terms


def _term_in(term: str, source: str) -> bool:
    """Case-insensitive substring, allowing a plural/possessive and hyphenated compounds whose
    capitalised parts each appear ("LLM-based" needs only "LLM")."""
    low = term.lower()
    variants = {low, low.removesuffix("'s").removesuffix("’s")}
    if len(low) > 2 and low.endswith("s") and term[:-1].isupper():
        variants.add(low[:-1])  # LLMs -> llm
    if any(v and v in source for v in variants):
        return True
    parts = [p for p in re.split(r"[-/]", term) if p]
    capital_parts = [p for p in parts if any(ch.isupper() for ch in p)]
    return len(parts) > 1 and bool(capital_parts) and all(_term_in(p, source) for p in capital_parts)


def ungrounded_terms(tldr: str, title: str, abstract: str) -> list[str]:
    """Numbers, names and acronyms in the TL;DR that neither the title nor the abstract contains.

    A number counts as present when its digits equal the digits of a number in the source
    ("1,000" ~ "1000", "12%" ~ "12 %"); a term when it is a case-insensitive substring (LaTeX
    ``$``/``{}`` ignored). The labelling guide's rule is "no number, name or claim the abstract
    does not contain", and invented numbers and names are the hallucinations a reader cannot spot.
    """
    source = f"{title}\n{abstract}"
    source_numbers = {_digits(m) for m in NUMBER_RE.findall(source)}
    # Also match with LaTeX math markers removed: the abstract's "S$^2$GR" is a TL;DR's "S^2GR".
    source_lower = f"{source}\n{_LATEX_MARKERS.sub('', source)}".lower()
    offenders = [m for m in NUMBER_RE.findall(tldr) if _digits(m) not in source_numbers]
    offenders += [t for t in _candidate_terms(tldr) if not _term_in(t, source_lower)]
    return list(dict.fromkeys(offenders))


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer  # imported lazily: it pulls in nltk

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (longest common subsequence, Porter-stemmed); 0 when either side is empty."""
    if not candidate.strip() or not reference.strip():
        return 0.0
    return float(_rouge_scorer().score(reference, candidate)["rougeL"].fmeasure)


# --------------------------------------------------------------------------- report records


class Estimate(BaseModel):
    """A point estimate with its percentile bootstrap interval."""

    value: float
    ci_low: float
    ci_high: float
    level: float = 0.95


class ConfusionMatrix(BaseModel):
    """Counts of gold label (row) against predicted label (column); the last column is NO_ANSWER."""

    rows: list[str]
    columns: list[str]
    counts: list[list[int]]


class TldrMetrics(BaseModel):
    """TL;DR quality over all dataset papers (a missing TL;DR fails every check)."""

    n: int
    english_share: float = Field(description="Non-empty and free of CJK characters")
    within_50_share: float = Field(description="Non-empty and at most 50 words")
    grounded_share: float = Field(description="Non-empty with no ungrounded number or term")
    mean_rouge_l: float | None = Field(description="Mean ROUGE-L F1 over papers with a reference")
    n_with_reference: int
    n_empty: int


class RunFacts(BaseModel):
    """What produced the run and what it spent (cached results spent nothing this run)."""

    n_papers: int
    n_results: int = Field(description="Results read, including ids not in the dataset")
    status_counts: dict[str, int] = Field(description="ok/invalid/error/skipped/missing over dataset papers")
    backends: list[str]
    models: list[str]
    prompt_versions: list[str]
    taxonomies: list[str]
    prompt_tokens: int = Field(description="Over non-cached results")
    completion_tokens: int = Field(description="Over non-cached results")
    cost_usd: float | None = Field(
        description="Over non-cached results; None if an ok one used tokens but has no price"
    )
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    cache_hits: int
    unmatched_result_ids: list[str] = Field(description="Result ids not in the dataset (ignored)")


class PaperRow(BaseModel):
    """One dataset paper with its gold labels, the run's answer and every per-paper score."""

    id: str
    title: str
    url: str = ""
    gold: str
    gold_secondary: list[str]
    predicted: str | None = Field(description="Primary label; None unless status is ok")
    predicted_secondary: list[str]
    answer: str = Field(description="The predicted label, or the status when there is none")
    correct: bool
    confidence: float = Field(description="0 unless status is ok (as scored for calibration)")
    status: str = Field(description="ok, invalid, error, skipped, or missing (no result)")
    error: str | None
    cached: bool
    tldr: str
    english: bool
    within_50: bool
    rouge_l: float | None
    ungrounded: list[str]
    evidence: str = Field(default="", description="Phrase the backend gave as evidence for its label")
    gold_notes: str = Field(default="", description="The labeller's note on the gold label (close calls)")


class HumanAgreement(BaseModel):
    """How far two independent annotators agreed on a sample of the dataset: the ceiling a backend
    is judged against (a backend cannot meaningfully beat the labels' own consistency)."""

    model_config = ConfigDict(extra="forbid")

    kappa: float = Field(ge=-1.0, le=1.0, description="Cohen's kappa between the two annotators' primaries")
    agreement: float = Field(ge=0.0, le=1.0, description="Share of papers given the same primary by both")
    n: int = Field(ge=1, description="Papers both annotators labelled")


class EvalReport(BaseModel):
    """Everything one eval computed; ``metrics.json`` is this model dumped as JSON."""

    dataset: str = Field(default="", description="Dataset name or path, for the reader")
    taxonomy: str | None = Field(description="Tag of the taxonomy the labels were checked against")
    labels: list[str] = Field(description="Labels macro-F1 and the per-class table average over")
    n: int
    seed: int
    n_boot: int
    accuracy: Estimate
    macro_f1: Estimate
    label_set_f1: float
    per_class: list[ClassMetrics]
    confusion: ConfusionMatrix
    ece: float
    calibration: list[CalibrationBin]
    coverage: list[CoveragePoint]
    tldr: TldrMetrics
    facts: RunFacts
    papers: list[PaperRow]
    kappa: float | None = Field(
        default=None,
        description="Cohen's kappa of the predicted primary label against gold (None in older reports)",
    )
    human_agreement: HumanAgreement | None = Field(
        default=None, description="Agreement between two annotators on this dataset, if measured"
    )
    dataset_description: str = Field(default="", description="What the dataset is, in words, for the reader")


HARDEST_MAX = 25
"""How many wrong answers the reports list: enough to see a pattern, few enough to read in a minute."""


def hardest_papers(rows: Sequence[PaperRow], limit: int = HARDEST_MAX) -> list[PaperRow]:
    """The wrong answers, most confident first; ties keep dataset order.

    A confident mistake says more about what the backend misunderstands than a hesitant one,
    and it is the kind a confidence threshold cannot catch. Papers with no answer count as
    wrong with confidence 0, so they come last.
    """
    wrong = [r for r in rows if not r.correct]
    return sorted(wrong, key=lambda r: -r.confidence)[: max(limit, 0)]


# --------------------------------------------------------------------------- evaluate


def _index_results(results: Iterable[PaperResult]) -> dict[str, PaperResult]:
    by_id: dict[str, PaperResult] = {}
    for r in results:
        if r.id in by_id:
            raise DatasetError(f"results: id {r.id!r} appears more than once; keep one result per paper")
        by_id[r.id] = r
    return by_id


def _row(item: DatasetItem, result: PaperResult | None) -> PaperRow:
    ok = result if result is not None and result.status == "ok" and result.primary else None
    status = result.status if result is not None else MISSING
    tldr = ok.tldr if ok is not None else ""
    return PaperRow(
        id=item.id,
        title=item.title,
        url=item.url,
        gold=item.primary,
        gold_secondary=list(item.secondary),
        predicted=ok.primary if ok is not None else None,
        predicted_secondary=list(ok.secondary) if ok is not None else [],
        answer=(ok.primary or status) if ok is not None else status,
        correct=ok is not None and ok.primary == item.primary,
        confidence=ok.confidence if ok is not None else 0.0,
        status=status,
        error=result.error if result is not None else "no result for this paper",
        cached=result is not None and result.cached,
        tldr=tldr,
        english=is_english(tldr),
        within_50=bool(tldr.strip()) and word_count(tldr) <= MAX_TLDR_WORDS,
        rouge_l=rouge_l(tldr, item.reference_tldr) if item.reference_tldr.strip() else None,
        ungrounded=ungrounded_terms(tldr, item.title, item.abstract),
        evidence=result.evidence if result is not None else "",
        gold_notes=item.notes,
    )


def _confusion(rows: Sequence[PaperRow], labels: Sequence[str]) -> ConfusionMatrix:
    columns = [*labels, NO_ANSWER]
    counts = Counter((r.gold, r.predicted or NO_ANSWER) for r in rows)
    return ConfusionMatrix(
        rows=list(labels), columns=columns, counts=[[counts[(g, p)] for p in columns] for g in labels]
    )


def _tldr_metrics(rows: Sequence[PaperRow]) -> TldrMetrics:
    n = len(rows)
    with_ref = [r.rouge_l for r in rows if r.rouge_l is not None]
    return TldrMetrics(
        n=n,
        english_share=sum(r.english for r in rows) / n,
        within_50_share=sum(r.within_50 for r in rows) / n,
        grounded_share=sum(bool(r.tldr.strip()) and not r.ungrounded for r in rows) / n,
        mean_rouge_l=sum(with_ref) / len(with_ref) if with_ref else None,
        n_with_reference=len(with_ref),
        n_empty=sum(not r.tldr.strip() for r in rows),
    )


def _tokens(r: PaperResult) -> int:
    return r.usage.total_tokens or r.usage.prompt_tokens + r.usage.completion_tokens


def _facts(items: Sequence[DatasetItem], by_id: dict[str, PaperResult]) -> RunFacts:
    ids = {it.id for it in items}
    matched = [by_id[it.id] for it in items if it.id in by_id]
    fresh = [r for r in matched if not r.cached]
    status_counts = {s: 0 for s in (*STATUSES, MISSING)}
    status_counts.update(Counter(r.status for r in matched))
    status_counts[MISSING] = len(items) - len(matched)
    latencies = [r.usage.latency_ms for r in fresh]
    # Unknown only if a paid call has no price: an offline result used no tokens and cost nothing.
    unpriced = any(r.usage.cost_usd is None and _tokens(r) > 0 for r in fresh if r.status == "ok")

    def seen(attr: str) -> list[str]:
        return sorted({getattr(r, attr) for r in matched if getattr(r, attr)})

    return RunFacts(
        n_papers=len(items),
        n_results=len(by_id),
        status_counts=status_counts,
        backends=seen("backend"),
        models=seen("model"),
        prompt_versions=seen("prompt_version"),
        taxonomies=seen("taxonomy"),
        prompt_tokens=sum(r.usage.prompt_tokens for r in fresh),
        completion_tokens=sum(r.usage.completion_tokens for r in fresh),
        cost_usd=None if unpriced else sum(r.usage.cost_usd or 0.0 for r in fresh),
        latency_p50_ms=quantile(latencies, 0.5) if latencies else None,
        latency_p95_ms=quantile(latencies, 0.95) if latencies else None,
        cache_hits=sum(r.cached for r in matched),
        unmatched_result_ids=sorted(set(by_id) - ids),
    )


def evaluate(
    results: Iterable[PaperResult],
    dataset: Sequence[DatasetItem],
    *,
    taxonomy: Taxonomy | None = None,
    seed: int = 0,
    n_boot: int = 2000,
    dataset_name: str = "",
    human_agreement: HumanAgreement | None = None,
    dataset_description: str = "",
) -> EvalReport:
    """Score ``results`` against ``dataset`` (matched by id) and compute every metric.

    With ``taxonomy``, gold labels are checked against it first (a ``DatasetError`` on a typo)
    and labels are listed in taxonomy order; macro-F1 averages over the taxonomy labels that
    occur in gold or predictions. ``human_agreement`` and ``dataset_description`` are carried
    into the report as given, so it can show the annotators' kappa beside the backend's.
    """
    items = list(dataset)
    if not items:
        raise DatasetError(f"{dataset_name or 'dataset'}: no papers to evaluate")
    if taxonomy is not None:
        check_labels(items, taxonomy, dataset_name or "dataset")
    by_id = _index_results(results)
    rows = [_row(item, by_id.get(item.id)) for item in items]

    gold = [r.gold for r in rows]
    pred = [r.predicted for r in rows]
    order = taxonomy.names if taxonomy is not None else ()
    all_labels = present_labels(gold, pred, order)
    labels = [lab for lab in all_labels if taxonomy is None or lab in taxonomy.names]
    pairs = list(zip(gold, pred))

    def acc_stat(s: Sequence[tuple[str, str | None]]) -> float:
        return accuracy([g for g, _ in s], [p for _, p in s])

    def f1_stat(s: Sequence[tuple[str, str | None]]) -> float:
        g, p = [x for x, _ in s], [y for _, y in s]
        return macro_f1(g, p, [lab for lab in present_labels(g, p, labels) if lab in labels])

    confidences = [r.confidence for r in rows]
    correct = [r.correct for r in rows]
    gold_sets = [{r.gold, *r.gold_secondary} for r in rows]
    pred_sets = [{r.predicted, *r.predicted_secondary} if r.predicted else set() for r in rows]
    return EvalReport(
        dataset=Path(dataset_name).name if dataset_name else "",  # a title, not a site-packages path
        taxonomy=taxonomy.tag if taxonomy is not None else None,
        labels=labels,
        n=len(rows),
        seed=seed,
        n_boot=n_boot,
        accuracy=Estimate(value=acc_stat(pairs), **_ci(pairs, acc_stat, n_boot, seed)),
        macro_f1=Estimate(value=f1_stat(pairs), **_ci(pairs, f1_stat, n_boot, seed)),
        label_set_f1=label_set_f1(gold_sets, pred_sets),
        per_class=_per_class_with_ci(gold, pred, labels, n_boot, seed),
        confusion=_confusion(rows, all_labels),
        ece=expected_calibration_error(confidences, correct),
        calibration=calibration_table(confidences, correct),
        coverage=coverage_curve(confidences, correct),
        tldr=_tldr_metrics(rows),
        facts=_facts(items, by_id),
        papers=rows,
        kappa=cohen_kappa(gold, pred),
        human_agreement=human_agreement,
        dataset_description=dataset_description,
    )


def _per_class_with_ci(
    gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str], n_boot: int, seed: int
) -> list[ClassMetrics]:
    stats = per_class(gold, pred, labels)
    cis = per_class_f1_ci(gold, pred, labels, n_boot=n_boot, seed=seed)
    return [
        s.model_copy(update={"f1_ci_low": cis[s.label][0], "f1_ci_high": cis[s.label][1]}) if s.label in cis else s
        for s in stats.values()
    ]


def _ci(samples: Sequence[T], stat: Callable[[Sequence[T]], float], n_boot: int, seed: int) -> dict[str, float]:
    lo, hi = bootstrap_ci(samples, stat, n_boot=n_boot, seed=seed)
    return {"ci_low": lo, "ci_high": hi}
