"""Compare two runs on the same labelled papers: did the change (prompt, model, backend) help?

Both runs are re-scored from their saved results, then paired by paper id. Besides the
side-by-side headline metrics, it gives the two numbers that answer "is the difference real
or noise?" on a small dataset: an exact McNemar test on per-paper correctness and a paired
bootstrap CI for the accuracy difference. And it lists the papers whose answer changed, which
is where a reviewer should look.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from agent.errors import DatasetError
from agent.evaluate.charts import f1_bars, figure, reliability_diagram
from agent.evaluate.dataset import DatasetItem, load_dataset
from agent.evaluate.metrics import Estimate, EvalReport, PaperRow, evaluate
from agent.evaluate.report import CSS, reliability_caption, write_files
from agent.evaluate.stats import CalibrationBin, ClassMetrics, mcnemar_exact, paired_bootstrap_diff
from agent.outputs import load_results, md_text
from agent.schema import PaperResult
from agent.taxonomy import Taxonomy

RunSource = str | Path | Sequence[PaperResult]
Unit = Literal["ratio", "tokens", "usd"]


class RunSide(BaseModel):
    """Where one side of the comparison came from and what produced it."""

    source: str = Field(description="Eval folder or results file, or '<results>' for in-memory")
    backends: list[str]
    models: list[str]
    prompt_versions: list[str]


class MetricDelta(BaseModel):
    """One headline metric for A and B; ``delta`` is B - A (None when either side is None)."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    better: Literal["higher", "lower"]
    unit: Unit = "ratio"


class McNemar(BaseModel):
    """Exact McNemar test on per-paper primary-label correctness."""

    b: int = Field(description="Papers A got right and B got wrong")
    c: int = Field(description="Papers A got wrong and B got right")
    p_value: float


class Flip(BaseModel):
    """A paper whose answer (label, or status when not ok) differs between the runs."""

    id: str
    title: str
    gold: str
    a: str
    b: str
    a_correct: bool
    b_correct: bool


class RunBreakdown(BaseModel):
    """The per-label and per-confidence-bin numbers of one side, kept for the side-by-side pictures."""

    per_class: list[ClassMetrics] = Field(description="Per-label metrics with F1 bootstrap CIs")
    calibration: list[CalibrationBin]
    ece: float


class Comparison(BaseModel):
    """Everything ``compare`` found; ``compare.json`` is this model dumped as JSON."""

    run_a: RunSide
    run_b: RunSide
    n_papers: int = Field(description="Dataset papers with a result in both runs (the paired set)")
    missing_from_a: list[str] = Field(description="Dataset ids with no result in A (left out)")
    missing_from_b: list[str] = Field(description="Dataset ids with no result in B (left out)")
    metrics: list[MetricDelta]
    mcnemar: McNemar
    accuracy_diff: Estimate = Field(description="accuracy(B) - accuracy(A) with a paired bootstrap CI")
    flips: list[Flip]
    seed: int
    n_boot: int
    breakdown_a: RunBreakdown | None = Field(default=None, description="None in comparisons saved before it")
    breakdown_b: RunBreakdown | None = Field(default=None, description="None in comparisons saved before it")


def load_run(source: str | Path) -> list[PaperResult]:
    """Results of a run: an eval output folder (its ``results.jsonl``) or a results JSONL file."""
    p = Path(source)
    if p.is_dir():
        results = p / "results.jsonl"
        if not results.is_file():
            raise DatasetError(f"{p}: no results.jsonl in this folder; pass an eval output folder or a results file")
        return load_results(results)
    return load_results(p)


def _results(source: RunSource) -> tuple[str, list[PaperResult]]:
    if isinstance(source, (str, Path)):
        return str(source), load_run(source)
    return "<results>", list(source)


def _side(source: str, report: EvalReport) -> RunSide:
    f = report.facts
    return RunSide(source=source, backends=f.backends, models=f.models, prompt_versions=f.prompt_versions)


def _breakdown(report: EvalReport) -> RunBreakdown:
    return RunBreakdown(per_class=report.per_class, calibration=report.calibration, ece=report.ece)


def _metrics(a: EvalReport, b: EvalReport) -> list[MetricDelta]:
    def tokens(r: EvalReport) -> float:
        return float(r.facts.prompt_tokens + r.facts.completion_tokens)

    pairs: list[tuple[str, float | None, float | None, Literal["higher", "lower"], Unit]] = [
        ("accuracy", a.accuracy.value, b.accuracy.value, "higher", "ratio"),
        ("macro-F1", a.macro_f1.value, b.macro_f1.value, "higher", "ratio"),
        ("label-set F1", a.label_set_f1, b.label_set_f1, "higher", "ratio"),
        ("ECE", a.ece, b.ece, "lower", "ratio"),
        ("TL;DR English", a.tldr.english_share, b.tldr.english_share, "higher", "ratio"),
        ("TL;DR within 50 words", a.tldr.within_50_share, b.tldr.within_50_share, "higher", "ratio"),
        ("TL;DR grounded", a.tldr.grounded_share, b.tldr.grounded_share, "higher", "ratio"),
        ("TL;DR ROUGE-L", a.tldr.mean_rouge_l, b.tldr.mean_rouge_l, "higher", "ratio"),
        ("TL;DR distinct", a.tldr.distinct_share, b.tldr.distinct_share, "higher", "ratio"),
        ("TL;DR stands alone", a.tldr.stands_alone_share, b.tldr.stands_alone_share, "higher", "ratio"),
        ("tokens", tokens(a), tokens(b), "lower", "tokens"),
        ("cost", a.facts.cost_usd, b.facts.cost_usd, "lower", "usd"),
    ]
    return [
        MetricDelta(name=n, a=x, b=y, delta=None if x is None or y is None else y - x, better=better, unit=unit)
        for n, x, y, better, unit in pairs
    ]


def _flips(pairs: Sequence[tuple[PaperRow, PaperRow]]) -> list[Flip]:
    """The papers whose answer differs between the runs (the same paper's rows, A then B)."""
    return [
        Flip(
            id=pa.id,
            title=pa.title,
            gold=pa.gold,
            a=pa.answer,
            b=pb.answer,
            a_correct=pa.correct,
            b_correct=pb.correct,
        )
        for pa, pb in pairs
        if pa.answer != pb.answer
    ]


def compare(
    run_a: RunSource,
    run_b: RunSource,
    dataset: Sequence[DatasetItem] | str | Path,
    out_dir: str | Path | None = None,
    *,
    taxonomy: Taxonomy | None = None,
    seed: int = 0,
    n_boot: int = 2000,
) -> Comparison:
    """Score runs A and B on the dataset papers both answered (paired by id) and compare them.

    Papers missing from either run are left out of the paired set and listed, so a partial run
    (``--limit``) is not compared against the other run's full dataset. Writes
    ``compare.md``/``compare.html``/``compare.json`` when ``out_dir`` is given.
    """
    items = load_dataset(dataset) if isinstance(dataset, (str, Path)) else list(dataset)
    name_a, results_a = _results(run_a)
    name_b, results_b = _results(run_b)
    ids_a, ids_b = {r.id for r in results_a}, {r.id for r in results_b}
    common = [it for it in items if it.id in ids_a and it.id in ids_b]
    if not common:
        raise DatasetError(f"{name_a} and {name_b} share no paper ids with the dataset; nothing to compare")
    rep_a = evaluate(results_a, common, taxonomy=taxonomy, seed=seed, n_boot=n_boot)
    rep_b = evaluate(results_b, common, taxonomy=taxonomy, seed=seed, n_boot=n_boot)
    pairs = list(zip(rep_a.papers, rep_b.papers))  # same dataset order, so same paper per pair
    a_ok = [pa.correct for pa, _ in pairs]
    b_ok = [pb.correct for _, pb in pairs]
    b = sum(x and not y for x, y in zip(a_ok, b_ok))
    c = sum(y and not x for x, y in zip(a_ok, b_ok))
    lo, hi = paired_bootstrap_diff(a_ok, b_ok, n_boot=n_boot, seed=seed)
    comp = Comparison(
        run_a=_side(name_a, rep_a),
        run_b=_side(name_b, rep_b),
        n_papers=len(common),
        missing_from_a=[it.id for it in items if it.id not in ids_a],
        missing_from_b=[it.id for it in items if it.id not in ids_b],
        metrics=_metrics(rep_a, rep_b),
        mcnemar=McNemar(b=b, c=c, p_value=mcnemar_exact(b, c)),
        accuracy_diff=Estimate(value=rep_b.accuracy.value - rep_a.accuracy.value, ci_low=lo, ci_high=hi),
        flips=_flips(pairs),
        seed=seed,
        n_boot=n_boot,
        breakdown_a=_breakdown(rep_a),
        breakdown_b=_breakdown(rep_b),
    )
    if out_dir is not None:
        write_comparison(comp, out_dir)
    return comp


# --------------------------------------------------------------------------- rendering


def _fmt(value: float | None, unit: Unit, signed: bool = False) -> str:
    if value is None:
        return "–"
    sign = "+" if signed else ""
    if unit == "tokens":
        return f"{value:{sign},.0f}"
    if unit == "usd":
        return f"{'-' if value < 0 else ('+' if signed else '')}${abs(value):.4f}"
    return f"{value:{sign}.3f}"


def _describe(side: RunSide) -> str:
    return (
        f"{side.source} (backend {', '.join(side.backends) or '?'}, model {', '.join(side.models) or '?'}"
        f"{', prompt ' + ', '.join(side.prompt_versions) if side.prompt_versions else ''})"
    )


def _verdict(comp: Comparison) -> str:
    m, d = comp.mcnemar, comp.accuracy_diff
    return (
        f"McNemar exact test: {m.b} papers right in A only, {m.c} right in B only, p = {m.p_value:.4g}. "
        f"Accuracy B−A: {d.value:+.3f} (95% paired bootstrap CI {d.ci_low:+.3f} to {d.ci_high:+.3f})."
    )


def _mark(correct: bool) -> str:
    return "✓" if correct else "✗"


def _answers(f: Flip) -> tuple[str, str]:
    """A's and B's answers, each with a right/wrong mark."""
    return f"{f.a} {_mark(f.a_correct)}", f"{f.b} {_mark(f.b_correct)}"


def format_comparison_text(comp: Comparison) -> str:
    """Plain-text summary for a terminal: metrics table, significance, changed answers."""
    lines = [f"A: {_describe(comp.run_a)}", f"B: {_describe(comp.run_b)}", f"Paired papers: {comp.n_papers}"]
    if comp.missing_from_a or comp.missing_from_b:
        lines.append(
            f"Left out (no result): {len(comp.missing_from_a)} missing from A, "
            f"{len(comp.missing_from_b)} missing from B"
        )
    width = max(len(m.name) for m in comp.metrics)
    lines += ["", f"{'metric':<{width}}  {'A':>10}  {'B':>10}  {'B−A':>10}  better"]
    for m in comp.metrics:
        lines.append(
            f"{m.name:<{width}}  {_fmt(m.a, m.unit):>10}  {_fmt(m.b, m.unit):>10}  "
            f"{_fmt(m.delta, m.unit, signed=True):>10}  {m.better}"
        )
    lines += ["", _verdict(comp), "", f"Changed answers: {len(comp.flips)}"]
    for f in comp.flips:
        a, b = _answers(f)
        lines.append(f"  {f.id}  gold {f.gold}: A {a} -> B {b}  {f.title}")
    return "\n".join(lines) + "\n"


def render_comparison_markdown(comp: Comparison) -> str:
    """``compare.md``: the same content as the terminal text, as Markdown tables."""

    esc = md_text  # titles and run descriptions are untrusted text: no raw HTML, no table breaks

    lines = [
        "# paper-agent eval comparison",
        "",
        f"- **A**: {esc(_describe(comp.run_a))}",
        f"- **B**: {esc(_describe(comp.run_b))}",
        f"- Paired papers: {comp.n_papers}",
    ]
    if comp.missing_from_a or comp.missing_from_b:
        lines.append(
            f"- Left out (no result): A {', '.join(comp.missing_from_a) or 'none'}; "
            f"B {', '.join(comp.missing_from_b) or 'none'}"
        )
    lines += ["", "| metric | A | B | B−A | better |", "|---|---|---|---|---|"]
    lines += [
        f"| {m.name} | {_fmt(m.a, m.unit)} | {_fmt(m.b, m.unit)} | {_fmt(m.delta, m.unit, signed=True)} | {m.better} |"
        for m in comp.metrics
    ]
    lines += ["", _verdict(comp), "", f"## Changed answers ({len(comp.flips)})", ""]
    if comp.flips:
        lines += ["| id | gold | A | B | title |", "|---|---|---|---|---|"]
        for f in comp.flips:
            a, b = _answers(f)
            lines.append(f"| {f.id} | {f.gold} | {a} | {b} | {esc(f.title)} |")
    else:
        lines.append("None: both runs gave the same answer on every paper.")
    return "\n".join(lines) + "\n"


def _metrics_html(comp: Comparison) -> str:
    head = "".join(f"<th>{h}</th>" for h in ("metric", "A", "B", "B−A", "better"))
    body = "".join(
        f'<tr><th>{escape(m.name)}</th><td class="n">{escape(_fmt(m.a, m.unit))}</td>'
        f'<td class="n">{escape(_fmt(m.b, m.unit))}</td>'
        f'<td class="n">{escape(_fmt(m.delta, m.unit, signed=True))}</td><td>{m.better}</td></tr>'
        for m in comp.metrics
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _flips_html(comp: Comparison) -> str:
    if not comp.flips:
        return "<p>None: both runs gave the same answer on every paper.</p>"
    head = "".join(f"<th>{h}</th>" for h in ("id", "gold", "A", "B", "title"))
    rows = []
    for f in comp.flips:
        a, b = _answers(f)
        rows.append(
            f"<tr><td>{escape(f.id)}</td><td>{escape(f.gold)}</td><td>{escape(a)}</td><td>{escape(b)}</td>"
            f"<td>{escape(f.title)}</td></tr>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _pictures_html(comp: Comparison) -> str:
    """Per-label F1 of A and B in one chart, then the two reliability diagrams side by side."""
    a, b = comp.breakdown_a, comp.breakdown_b
    if a is None or b is None:
        return ""
    f1 = figure(
        f1_bars([("A", a.per_class), ("B", b.per_class)], title="Per-label F1 with 95% CI: run A against run B"),
        "Blue: run A; orange: run B. Whiskers: 95% percentile bootstrap CI of each run's F1 "
        f"({comp.n_boot} resamples, seed {comp.seed}); where they overlap the data do not separate the runs.",
    )
    reliability = "".join(
        figure(
            reliability_diagram(side.calibration, title=f"Reliability diagram, run {name}", ece=side.ece),
            f"Run {name}. {reliability_caption(side.ece)}",
        )
        for name, side in (("A", a), ("B", b))
    )
    return f'<h2>Pictures</h2>{f1}<div class="charts">{reliability}</div>'


def render_comparison_html(comp: Comparison) -> str:
    """``compare.html``: the Markdown content plus the two runs' pictures side by side, self-contained."""
    left_out = ""
    if comp.missing_from_a or comp.missing_from_b:
        left_out = (
            f"<li>Left out (no result): A {escape(', '.join(comp.missing_from_a) or 'none')}; "
            f"B {escape(', '.join(comp.missing_from_b) or 'none')}</li>"
        )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>paper-agent eval comparison</title><style>{CSS}</style></head><body>",
        "<h1>paper-agent eval comparison</h1>",
        f"<ul><li><b>A</b>: {escape(_describe(comp.run_a))}</li><li><b>B</b>: {escape(_describe(comp.run_b))}</li>"
        f"<li>Paired papers: {comp.n_papers}</li>{left_out}</ul>",
        f"<h2>Metrics</h2>{_metrics_html(comp)}<p>{escape(_verdict(comp))}</p>",
        _pictures_html(comp),
        f"<h2>Changed answers ({len(comp.flips)})</h2>{_flips_html(comp)}",
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_comparison(comp: Comparison, out_dir: str | Path) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.html`` and ``compare.json`` into ``out_dir`` (created if needed)."""
    files = {
        "json": ("compare.json", comp.model_dump_json(indent=2) + "\n"),
        "markdown": ("compare.md", render_comparison_markdown(comp)),
        "html": ("compare.html", render_comparison_html(comp)),
    }
    return write_files(out_dir, files, "comparison")
