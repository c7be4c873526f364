"""Score a run against a labelled dataset: sample -> result -> per-paper score -> metric.

Everything here is a pure function of saved data (results + dataset), so any metric can be
recomputed later from ``results.jsonl`` without calling a model. The statistics live in
``agent.evaluate.stats`` and the per-paper TL;DR scorers in ``agent.evaluate.scorers`` (public,
so tests can check them against numbers worked out by hand); this module holds the report
records and ``evaluate``, which only wires them together.

One rule runs through all of it: a paper the agent did not answer (no result, or a result
with status invalid/error/skipped) is WRONG, never dropped, so a run cannot look better by
failing on the hard papers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agent.errors import DatasetError
from agent.evaluate.dataset import DatasetItem, check_labels
from agent.evaluate.scorers import (
    dangling_references,
    is_english,
    normalized_tldr,
    opens_with_dangling_reference,
    restates_title,
    rouge_l,
    stands_alone,
    ungrounded_terms,
    within_word_limit,
)
from agent.evaluate.stats import (
    CalibrationBin,
    ClassMetrics,
    CoveragePoint,
    accuracy,
    bootstrap_ci,
    calibration_table,
    cohen_kappa,
    coverage_curve,
    expected_calibration_error,
    label_set_f1,
    macro_f1,
    per_class,
    per_class_f1_ci,
    present_labels,
    quantile,
)
from agent.schema import STATUSES, PaperResult
from agent.taxonomy import Taxonomy

T = TypeVar("T")

NO_ANSWER = "invalid/error/skipped"
"""Confusion-matrix column for papers with no usable answer (non-ok status or no result)."""
MISSING = "missing"
"""Status and answer recorded for a dataset paper that has no result at all."""


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
    # None in reports written before these scores existed.
    distinct_share: float | None = Field(
        default=None, description="Distinct TL;DRs (case, spacing and punctuation ignored) over all papers"
    )
    restates_title_share: float | None = Field(default=None, description="TL;DRs that say little beyond the title")
    dangling_open_share: float | None = Field(
        default=None, description="TL;DRs opening with a reference to text they leave out (This/These/It ...)"
    )
    stands_alone_share: float | None = Field(
        default=None, description="Finished sentences with no dangling reference and no enumeration cut short"
    )


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
    stands_alone: bool | None = Field(default=None, description="None in reports older than the scorer")
    restates_title: bool | None = None
    dangling: list[str] = Field(default_factory=list, description="Back-references with no referent in the TL;DR")
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
        within_50=within_word_limit(tldr),
        rouge_l=rouge_l(tldr, item.reference_tldr) if item.reference_tldr.strip() else None,
        ungrounded=ungrounded_terms(tldr, item.title, item.abstract),
        stands_alone=stands_alone(tldr, item.abstract),
        restates_title=restates_title(tldr, item.title),
        dangling=dangling_references(tldr),
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
        distinct_share=len({normalized_tldr(r.tldr) for r in rows if r.tldr.strip()}) / n,
        restates_title_share=sum(bool(r.restates_title) for r in rows) / n,
        dangling_open_share=sum(opens_with_dangling_reference(r.tldr) for r in rows) / n,
        stands_alone_share=sum(bool(r.stands_alone) for r in rows) / n,
    )


# Thresholds for calling a run's TL;DRs useless: a real set of summaries is nearly all distinct
# and mostly says more than the title; the offline baseline and the LLM backends stay well clear.
MIN_DISTINCT_SHARE = 0.9
MAX_RESTATES_TITLE_SHARE = 0.25
MAX_DANGLING_OPEN_SHARE = 0.1


def tldr_warnings(t: TldrMetrics) -> list[str]:
    """Plain-language warnings for TL;DRs that pass English/length/grounding yet tell a reader
    nothing: one sentence for every paper is grounded, short and English, and scores 100% there."""
    out = []
    if t.distinct_share is not None and t.distinct_share < MIN_DISTINCT_SHARE:
        distinct = round(t.distinct_share * t.n)
        out.append(
            f"Only {distinct} distinct TL;DRs for {t.n} papers ({100 * t.distinct_share:.1f}%): "
            "the run repeats the same summary for different papers."
        )
    if t.restates_title_share is not None and t.restates_title_share > MAX_RESTATES_TITLE_SHARE:
        out.append(f"{100 * t.restates_title_share:.1f}% of TL;DRs only restate the paper's title.")
    if t.dangling_open_share is not None and t.dangling_open_share > MAX_DANGLING_OPEN_SHARE:
        out.append(
            f"{100 * t.dangling_open_share:.1f}% of TL;DRs open with a reference (This/These/It ...) "
            "to text they leave out."
        )
    return out


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
    acc, f1 = _accuracy_and_macro_f1(gold, pred, labels, n_boot, seed)
    confidences = [r.confidence for r in rows]
    correct = [r.correct for r in rows]
    return EvalReport(
        dataset=Path(dataset_name).name if dataset_name else "",  # a title, not a site-packages path
        taxonomy=taxonomy.tag if taxonomy is not None else None,
        labels=labels,
        n=len(rows),
        seed=seed,
        n_boot=n_boot,
        accuracy=acc,
        macro_f1=f1,
        label_set_f1=_label_set_f1(rows),
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


def _accuracy_and_macro_f1(
    gold: Sequence[str], pred: Sequence[str | None], labels: Sequence[str], n_boot: int, seed: int
) -> tuple[Estimate, Estimate]:
    """Accuracy and macro-F1 over ``labels``, each with its bootstrap CI over the same resamples.

    A resample's macro-F1 averages only the labels present in it (as ``present_labels``), so a
    rare label that drops out of a resample does not count as an F1 of 0 there.
    """
    pairs = list(zip(gold, pred))

    def acc_stat(s: Sequence[tuple[str, str | None]]) -> float:
        return accuracy([g for g, _ in s], [p for _, p in s])

    def f1_stat(s: Sequence[tuple[str, str | None]]) -> float:
        g, p = [x for x, _ in s], [y for _, y in s]
        return macro_f1(g, p, [lab for lab in present_labels(g, p, labels) if lab in labels])

    return (
        Estimate(value=acc_stat(pairs), **_ci(pairs, acc_stat, n_boot, seed)),
        Estimate(value=f1_stat(pairs), **_ci(pairs, f1_stat, n_boot, seed)),
    )


def _label_set_f1(rows: Sequence[PaperRow]) -> float:
    """Label-set F1 of the rows: {primary} + secondary on each side; no answer is the empty set."""
    gold_sets = [{r.gold, *r.gold_secondary} for r in rows]
    pred_sets = [{r.predicted, *r.predicted_secondary} if r.predicted else set() for r in rows]
    return label_set_f1(gold_sets, pred_sets)


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
