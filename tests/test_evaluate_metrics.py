"""Metric helpers and ``evaluate``, checked against numbers worked out by hand in each test."""

from __future__ import annotations

import pytest

from agent.evaluate import NO_ANSWER, DatasetItem, EvalReport, HumanAgreement, evaluate, mcnemar_exact
from agent.evaluate.metrics import hardest_papers
from agent.evaluate.scorers import is_english, rouge_l, ungrounded_terms
from agent.evaluate.stats import (
    accuracy,
    bootstrap_ci,
    calibration_table,
    cohen_kappa,
    coverage_curve,
    expected_calibration_error,
    label_set_f1,
    macro_f1,
    paired_bootstrap_diff,
    per_class,
    per_class_f1_ci,
)
from agent.schema import PaperResult, Usage

# 3-class toy. Per class, by hand:
#   a: predicted a at 0,1 (both right), gold a at 0,1,2 -> P 2/2, R 2/3, F1 0.8
#   b: predicted b at 2,3 (3 right),    gold b at 3,4   -> P 1/2, R 1/2, F1 0.5
#   c: predicted c at 4,5 (5 right),    gold c at 5     -> P 1/2, R 1/1, F1 2/3
GOLD = ["a", "a", "a", "b", "b", "c"]
PRED = ["a", "a", "b", "b", "c", "c"]


def item(pid: str, primary: str, secondary: list[str] | None = None, abstract: str = "An abstract.") -> DatasetItem:
    return DatasetItem(id=pid, title=f"Paper {pid}", abstract=abstract, primary=primary, secondary=secondary or [])


def result(pid: str, primary: str | None, confidence: float = 0.5, status: str = "ok", **kw: object) -> PaperResult:
    return PaperResult(id=pid, title=f"Paper {pid}", primary=primary, confidence=confidence, status=status, **kw)


def test_per_class_precision_recall_f1_on_three_class_toy() -> None:
    stats = per_class(GOLD, PRED)
    assert [stats[k].precision for k in "abc"] == pytest.approx([1.0, 0.5, 0.5])
    assert [stats[k].recall for k in "abc"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert [stats[k].f1 for k in "abc"] == pytest.approx([0.8, 0.5, 2 / 3])
    assert [stats[k].support for k in "abc"] == [3, 2, 1]


def test_macro_f1_and_accuracy_on_three_class_toy() -> None:
    assert macro_f1(GOLD, PRED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)  # 0.6556
    assert accuracy(GOLD, PRED) == pytest.approx(4 / 6)


def test_no_answer_is_wrong_and_lowers_recall() -> None:
    assert accuracy(["a", "b"], ["a", None]) == 0.5
    assert per_class(["a", "b"], ["a", None])["b"].recall == 0.0


def test_label_set_f1_is_micro_over_papers() -> None:
    # tp: a, a = 2; fp: c = 1; fn: b = 1 -> 2*2 / (4 + 1 + 1)
    assert label_set_f1([{"a"}, {"a", "b"}], [{"a", "c"}, {"a"}]) == pytest.approx(2 / 3)


@pytest.mark.parametrize(("b", "c", "p"), [(1, 6, 0.125), (0, 5, 0.0625), (6, 1, 0.125), (0, 0, 1.0), (3, 3, 1.0)])
def test_mcnemar_exact_matches_binomial_by_hand(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p)


def test_ece_on_tiny_example() -> None:
    # bin 0.9: conf .9,.9 acc .5 -> |.5-.9| = .4; bin 0.2: conf .2,.25 acc .5 -> .275. Each weight 2/4.
    ece = expected_calibration_error([0.9, 0.9, 0.2, 0.25], [True, False, False, True])
    assert ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.275)  # 0.3375


def test_calibration_bins_put_one_in_last_bin() -> None:
    table = calibration_table([1.0, 0.0, 0.3], [True, False, True])
    assert (table[9].count, table[0].count, table[3].count) == (1, 1, 1)
    assert table[5].accuracy is None


def test_coverage_sets_aside_least_confident_first() -> None:
    # sorted by confidence: .1 wrong, .5 right, .8 wrong, .9 right
    points = coverage_curve([0.9, 0.1, 0.8, 0.5], [True, False, False, True], set_aside=(0.0, 0.25, 0.5))
    assert [p.kept for p in points] == [4, 3, 2]
    assert [p.accuracy for p in points] == pytest.approx([0.5, 2 / 3, 0.5])


def test_bootstrap_ci_is_reproducible_and_contains_point() -> None:
    data = [True] * 7 + [False] * 3

    def mean(s: list[bool]) -> float:
        return sum(s) / len(s)

    first = bootstrap_ci(data, mean, n_boot=500, seed=7)
    assert first == bootstrap_ci(data, mean, n_boot=500, seed=7)
    assert first[0] <= 0.7 <= first[1]
    assert 0.3 < first[0] < 0.7 < first[1] <= 1.0


def test_paired_bootstrap_diff_is_zero_for_identical_runs() -> None:
    runs = [True, False, True, True]
    assert paired_bootstrap_diff(runs, runs, n_boot=200) == (0.0, 0.0)
    lo, hi = paired_bootstrap_diff([False] * 4 + [True] * 4, [True] * 8, n_boot=500, seed=1)
    assert 0.0 < lo <= 0.5 <= hi <= 1.0


def test_grounding_flags_invented_number_and_acronym_only() -> None:
    abstract = "We propose RAGX, which improves recall by 12.5% on MS MARCO with 1,000 queries."
    tldr = "Proposes RAGX, improving recall by 12.5% on MS MARCO and by 30% on BEIR using 1000 queries."
    assert ungrounded_terms(tldr, "A title", abstract) == ["30%", "BEIR"]


def test_grounding_accepts_terms_from_title_and_sentence_start_words() -> None:
    tldr = "Proposes DAC4Rec for LLM-based ranking. It uses Diffusion."
    assert ungrounded_terms(tldr, "DAC4Rec: diffusion for RL", "Large LLMs rank items.") == []


def test_grounding_ignores_latex_math_markers() -> None:
    assert ungrounded_terms("Proposes S^2GR.", "S$^2$GR: reasoning", "We propose it.") == []


def test_tldr_language_and_rouge() -> None:
    assert not is_english("提出DAC4Rec框架")
    assert is_english("Proposes DAC4Rec.")
    assert not is_english("")
    assert rouge_l("proposes a new ranker", "proposes a new ranker") == pytest.approx(1.0)


@pytest.mark.parametrize(
    "tldr",
    [
        "Proposes ＲＡＧ for ranking.",  # full-width Latin letters (U+FF00-U+FFEF)
        "Proposes a ranker，with a retriever.",  # full-width comma
        "提出DAC4Rec框架",  # Chinese
        "Proposes a ranker (ランキング).",  # Japanese katakana
        "Proposes a ranker (순위).",  # Korean
        "Proposes DAC4Rec, a ranker for “cold” items.",  # English with curly quotes: fine for both
    ],
)
def test_the_reply_validator_and_the_eval_scorer_agree_on_english(tldr: str) -> None:
    """One rule for "is this English": a TL;DR the backend would re-ask for is never scored as
    English by the eval, and one it accepts is never scored as not English."""
    from pydantic import ValidationError

    from agent.backends.contract import build_response_model
    from agent.taxonomy import load_taxonomy

    model = build_response_model(load_taxonomy())
    reply = {"primary": "rag", "confidence": 0.9, "evidence": "a phrase", "tldr": tldr}
    try:
        model.model_validate(reply)
        accepted = True
    except ValidationError as exc:
        assert "English" in str(exc)
        accepted = False
    assert accepted == is_english(tldr)


def test_invalid_result_lands_in_no_answer_column_and_counts_wrong() -> None:
    items = [item("1", "a"), item("2", "b"), item("3", "b")]
    results = [result("1", "a", 0.9), result("2", None, status="invalid", error="bad JSON")]
    report = evaluate(results, items, n_boot=100)
    assert report.accuracy.value == pytest.approx(1 / 3)
    assert report.confusion.columns == ["a", "b", NO_ANSWER]
    assert report.confusion.counts == [[1, 0, 0], [0, 0, 2]]  # invalid + missing both in NO_ANSWER
    assert [p.answer for p in report.papers] == ["a", "invalid", "missing"]
    assert report.facts.status_counts["invalid"] == 1 and report.facts.status_counts["missing"] == 1


def test_non_ok_results_score_confidence_zero_for_calibration() -> None:
    report = evaluate([result("1", None, 0.8, status="error")], [item("1", "a")], n_boot=10)
    assert report.papers[0].confidence == 0.0
    assert report.calibration[0].count == 1 and report.ece == 0.0


def test_run_facts_count_cost_and_tokens_of_non_cached_results_only() -> None:
    items = [item("1", "a"), item("2", "a"), item("3", "a")]
    results = [
        result("1", "a", usage=Usage(prompt_tokens=100, completion_tokens=10, cost_usd=0.01, latency_ms=100)),
        result("2", "a", usage=Usage(prompt_tokens=300, completion_tokens=30, cost_usd=0.03, latency_ms=300)),
        result("3", "a", cached=True, usage=Usage(prompt_tokens=999, cost_usd=9.0, latency_ms=5)),
    ]
    facts = evaluate(results, items, n_boot=10).facts
    assert (facts.prompt_tokens, facts.completion_tokens, facts.cache_hits) == (400, 40, 1)
    assert facts.cost_usd == pytest.approx(0.04)
    assert facts.latency_p50_ms == pytest.approx(200.0)


def test_cost_is_unknown_when_an_ok_result_used_tokens_without_a_price() -> None:
    results = [
        result("1", "a", usage=Usage(prompt_tokens=5, cost_usd=0.01)),
        result("2", "a", usage=Usage(prompt_tokens=5, cost_usd=None)),
    ]
    assert evaluate(results, [item("1", "a"), item("2", "a")], n_boot=10).facts.cost_usd is None


def test_token_free_offline_results_cost_nothing() -> None:
    results = [result("1", "a", backend="offline", usage=Usage(attempts=1))]
    assert evaluate(results, [item("1", "a")], n_boot=10).facts.cost_usd == 0.0


def test_macro_f1_ci_is_seeded_and_brackets_the_estimate() -> None:
    items = [item(str(i), g) for i, g in enumerate(GOLD)]
    results = [result(str(i), p) for i, p in enumerate(PRED)]
    a = evaluate(results, items, seed=3, n_boot=300)
    assert a.macro_f1 == evaluate(results, items, seed=3, n_boot=300).macro_f1
    assert a.macro_f1.value == pytest.approx(0.6556, abs=1e-4)
    assert a.macro_f1.ci_low <= a.macro_f1.value <= a.macro_f1.ci_high


def test_secondary_labels_feed_label_set_f1() -> None:
    items = [item("1", "a", ["b"])]
    report = evaluate([result("1", "a", secondary=["c"])], items, n_boot=10)
    assert report.label_set_f1 == pytest.approx(0.5)  # tp 1, fp 1, fn 1


# --------------------------------------------------------------------------- kappa, per-label CI, hardest


def test_cohen_kappa_on_three_class_toy() -> None:
    # p_o = 4/6; marginals gold a3 b2 c1, pred a2 b2 c2 -> p_e = (6 + 4 + 2) / 36 = 1/3
    # kappa = (2/3 - 1/3) / (1 - 1/3) = 0.5
    assert cohen_kappa(GOLD, PRED) == pytest.approx(0.5)


def test_cohen_kappa_counts_no_answer_as_its_own_category() -> None:
    # p_o = 3/4; gold a2 b2, pred a1 None1 b2 -> p_e = (2 + 4) / 16; kappa = (.75 - .375) / .625
    assert cohen_kappa(["a", "a", "b", "b"], ["a", None, "b", "b"]) == pytest.approx(0.6)
    assert cohen_kappa(["a", "a"], ["a", "a"]) == 1.0  # chance agreement already 1


def test_evaluate_reports_kappa_against_gold() -> None:
    items = [item(str(i), g) for i, g in enumerate(GOLD)]
    report = evaluate([result(str(i), p) for i, p in enumerate(PRED)], items, n_boot=10)
    assert report.kappa == pytest.approx(0.5)


def test_per_label_f1_ci_uses_the_same_draws_as_bootstrap_ci() -> None:
    # Gold is "a" everywhere, so every resample has an F1 for "a" and the two must agree exactly.
    gold = ["a"] * 8
    pred = ["a", "a", "b", "a", None, "a", "b", "a"]

    def f1_a(s: list[tuple[str, str | None]]) -> float:
        return per_class([g for g, _ in s], [p for _, p in s], ["a"])["a"].f1

    expected = bootstrap_ci(list(zip(gold, pred)), f1_a, n_boot=300, seed=5)
    assert per_class_f1_ci(gold, pred, ["a", "b"], n_boot=300, seed=5)["a"] == pytest.approx(expected)


def test_per_label_f1_ci_skips_resamples_without_the_label() -> None:
    # One "c" paper, always right: where a resample holds it F1 is 1; where not, F1 is undefined.
    gold = ["a"] * 9 + ["c"]
    pred = ["a"] * 9 + ["c"]
    assert per_class_f1_ci(gold, pred, ["a", "c"], n_boot=200)["c"] == (1.0, 1.0)


def test_evaluate_puts_f1_ci_around_each_label() -> None:
    items = [item(str(i), g) for i, g in enumerate(GOLD)]
    report = evaluate([result(str(i), p) for i, p in enumerate(PRED)], items, n_boot=300, seed=1)
    for c in report.per_class:
        assert c.f1_ci_low is not None and c.f1_ci_high is not None
        assert c.f1_ci_low <= c.f1 <= c.f1_ci_high


def test_rows_carry_evidence_and_gold_notes() -> None:
    gold = item("1", "a").model_copy(update={"notes": "close call a vs b"})
    report = evaluate([result("1", "b", evidence="we rerank")], [gold, item("2", "a")], n_boot=10)
    assert (report.papers[0].evidence, report.papers[0].gold_notes) == ("we rerank", "close call a vs b")
    assert (report.papers[1].evidence, report.papers[1].gold_notes) == ("", "")  # missing result


def test_hardest_papers_are_wrong_ones_most_confident_first() -> None:
    items = [item(str(i), "a") for i in range(5)]
    results = [
        result("0", "b", 0.4),
        result("1", "a", 0.99),  # right: never listed
        result("2", "b", 0.9),
        result("3", None, 0.8, status="invalid"),  # no answer: confidence 0, last
        result("4", "c", 0.4),  # ties keep dataset order
    ]
    rows = evaluate(results, items, n_boot=10).papers
    assert [p.id for p in hardest_papers(rows)] == ["2", "0", "4", "3"]
    assert [p.id for p in hardest_papers(rows, limit=2)] == ["2", "0"]


def test_human_agreement_and_description_are_carried_into_the_report() -> None:
    human = HumanAgreement(kappa=0.78, agreement=0.85, n=80)
    report = evaluate(
        [result("1", "a")], [item("1", "a")], n_boot=10, human_agreement=human, dataset_description="test split"
    )
    assert report.human_agreement == human and report.dataset_description == "test split"
    with pytest.raises(ValueError):
        HumanAgreement(kappa=1.2, agreement=0.9, n=80)


def test_metrics_json_from_before_these_fields_still_loads() -> None:
    report = evaluate([result("1", "a")], [item("1", "a")], n_boot=10)
    data = report.model_dump()
    for key in ("kappa", "human_agreement", "dataset_description"):
        del data[key]
    for row in data["papers"]:
        del row["evidence"], row["gold_notes"]
    for c in data["per_class"]:
        del c["f1_ci_low"], c["f1_ci_high"]
    old = EvalReport.model_validate(data)
    assert old.kappa is None and old.papers[0].gold_notes == "" and old.per_class[0].f1_ci_low is None
