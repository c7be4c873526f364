"""Write an ``EvalReport`` three ways: ``metrics.json`` for machines, ``report.md`` for diffs and
PRs, and ``report.html`` for people.

The HTML is one self-contained file (inline CSS, no scripts, no external assets) so it can be
mailed, archived or opened offline and still look the same. All text from papers and models is
escaped: titles and TL;DRs are untrusted input.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from agent.errors import OutputError
from agent.evaluate.charts import confusion_heatmap, f1_bars, figure, reliability_diagram
from agent.evaluate.metrics import HARDEST_MAX, NO_ANSWER, EvalReport, PaperRow, hardest_papers, tldr_warnings
from agent.evaluate.stats import ClassMetrics
from agent.outputs import http_url, md_text

WRONG_MARK = "✗"
RIGHT_MARK = "✓"
UNGROUNDED_MARK = "⚠"
NO_ANSWER_MARK = "∅"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def producer(report: EvalReport) -> str:
    """Which backend/model produced the run, in words (reports must never hide this)."""
    f = report.facts
    if not f.backends:
        return "unknown backend (no results were scored)"
    text = f"backend {', '.join(f.backends)}, model {', '.join(f.models) or 'unknown'}"
    if f.prompt_versions:
        text += f", prompt {', '.join(f.prompt_versions)}"
    return text


def offline_notice(report: EvalReport) -> str | None:
    """The offline backend is a keyword baseline; a reader must not mistake it for an LLM."""
    if "offline" not in report.facts.backends:
        return None
    return (
        "This run was produced by the offline baseline, not an LLM: labels come from a linear model "
        "over the taxonomy's keyword cues and the paper's words (or from the cues alone with a custom "
        "taxonomy), and TL;DRs are sentences extracted from the abstract."
    )


def _fact_rows(report: EvalReport) -> list[tuple[str, str]]:
    f = report.facts
    statuses = ", ".join(f"{k} {v}" for k, v in f.status_counts.items() if v) or "none"
    return [
        ("papers", str(f.n_papers)),
        ("results read", str(f.n_results)),
        ("status", statuses),
        ("backend", ", ".join(f.backends) or "–"),
        ("model", ", ".join(f.models) or "–"),
        ("prompt version", ", ".join(f.prompt_versions) or "–"),
        ("taxonomy (results)", ", ".join(f.taxonomies) or "–"),
        ("taxonomy (labels checked)", report.taxonomy or "not checked"),
        ("tokens (prompt / completion)", f"{f.prompt_tokens} / {f.completion_tokens}"),
        ("cost", "unknown (unpriced model)" if f.cost_usd is None else f"${f.cost_usd:.4f}"),
        ("latency p50 / p95", f"{num(f.latency_p50_ms, 0)} ms / {num(f.latency_p95_ms, 0)} ms"),
        ("cache hits", str(f.cache_hits)),
        ("result ids not in dataset", ", ".join(f.unmatched_result_ids) or "none"),
        ("bootstrap", f"{report.n_boot} resamples, seed {report.seed}"),
    ]


def _headline(report: EvalReport) -> list[tuple[str, str, str]]:
    """(metric, value, note) for the four numbers a reader looks at first."""
    a, m = report.accuracy, report.macro_f1
    return [
        ("Accuracy", pct(a.value), f"95% CI {pct(a.ci_low)}–{pct(a.ci_high)}"),
        ("Macro-F1", num(m.value), f"95% CI {num(m.ci_low)}–{num(m.ci_high)}"),
        ("Label-set micro-F1", num(report.label_set_f1), "primary + secondary labels"),
        ("ECE", num(report.ece), "calibration error, lower is better"),
        *_kappa_row(report),
    ]


def _kappa_row(report: EvalReport) -> list[tuple[str, str, str]]:
    """Kappa beside accuracy: it discounts the agreement a backend gets by always saying `other`."""
    if report.kappa is None:  # metrics.json written before kappa was computed
        return []
    return [("Cohen's kappa", num(report.kappa), "against gold, chance-corrected")]


def _tldr_rows(report: EvalReport) -> list[tuple[str, str]]:
    t = report.tldr
    return [
        ("English", pct(t.english_share)),
        ("Within 50 words", pct(t.within_50_share)),
        ("Grounded (no invented number or term)", pct(t.grounded_share)),
        ("Mean ROUGE-L F1", f"{num(t.mean_rouge_l)} over {t.n_with_reference} references"),
        ("Empty TL;DRs", str(t.n_empty)),
        ("Distinct TL;DRs", pct(t.distinct_share)),
        ("Stand alone (finished, no dangling reference, no list cut short)", pct(t.stands_alone_share)),
        ("Restate the title", pct(t.restates_title_share)),
        ("Open with a dangling reference", pct(t.dangling_open_share)),
    ]


def tldr_warning_lines(report: EvalReport) -> list[str]:
    """The TL;DR section's warnings, each marked so a reader cannot miss them."""
    return [f"{UNGROUNDED_MARK} {w}" for w in tldr_warnings(report.tldr)]


Table = tuple[list[str], list[list[str]]]


def _per_class_table(report: EvalReport) -> Table:
    header = ["label", "precision", "recall", "F1", "F1 95% CI", "support", "predicted"]
    rows = [
        [c.label, num(c.precision), num(c.recall), num(c.f1), _f1_ci(c), str(c.support), str(c.predicted)]
        for c in report.per_class
    ]
    return header, rows


def _f1_ci(c: ClassMetrics) -> str:
    if c.f1_ci_low is None or c.f1_ci_high is None:
        return "–"
    return f"{num(c.f1_ci_low)}–{num(c.f1_ci_high)}"


def _calibration_table(report: EvalReport) -> Table:
    header = ["confidence", "papers", "mean confidence", "accuracy"]
    rows = [
        [f"{b.lo:.1f}–{b.hi:.1f}", str(b.count), num(b.mean_confidence), pct(b.accuracy)] for b in report.calibration
    ]
    return header, rows


def _coverage_table(report: EvalReport) -> Table:
    header = ["set aside (least confident)", "papers kept", "accuracy", "lowest kept confidence"]
    rows = [[pct(p.set_aside), str(p.kept), pct(p.accuracy), num(p.min_confidence)] for p in report.coverage]
    return header, rows


# --------------------------------------------------------------------------- agreement, hardest papers


def agreement_lines(report: EvalReport) -> list[str]:
    """Sentences for under the headline: what the dataset is, and the annotators' kappa beside the backend's.

    Two people labelling the same papers from the same guide do not agree perfectly; their
    kappa is the ceiling a backend is judged against, so the report puts the two side by side.
    """
    lines = [f"Dataset: {report.dataset_description}"] if report.dataset_description.strip() else []
    h = report.human_agreement
    if h is not None:
        text = (
            f"Human agreement (Cohen's kappa between two annotators, n={h.n}): {h.kappa:.3f} "
            f"(raw agreement {pct(h.agreement)})."
        )
        if report.kappa is not None:
            text += f" This backend's Cohen's kappa against gold on this dataset (n={report.n}): {report.kappa:.3f}."
        lines.append(text)
    return lines


def hardest_heading(report: EvalReport) -> str:
    """Section title that says how many answers were wrong in all, not only how many are listed."""
    wrong = sum(not p.correct for p in report.papers)
    if wrong > HARDEST_MAX:
        return f"Hardest papers: the {HARDEST_MAX} most confident of {wrong} wrong answers ({report.n} papers)"
    return f"Hardest papers: {wrong} wrong answers of {report.n} papers, most confident first"


HARDEST_NOTE = (
    "Wrong answers, most confident first: a confident mistake shows what the backend misunderstands "
    "and is the kind a confidence threshold cannot catch. A paper with no answer (invalid, error, "
    "skipped, missing) is wrong with confidence 0."
)
HARDEST_HEADER = ["confidence", "id", "title", "gold (+ secondary)", "answer", "evidence", "gold note"]


def _gold_text(p: PaperRow) -> str:
    return f"{p.gold} (+ {', '.join(p.gold_secondary)})" if p.gold_secondary else p.gold


def _answer_text(p: PaperRow) -> str:
    """The label, or the status with its error when there was no usable answer."""
    return f"{p.answer}: {p.error}" if p.predicted is None and p.error else p.answer


def _hardest_md_table(report: EvalReport) -> Table:
    rows = [
        [
            # Raw text: _md_table escapes every cell (titles are plain, as in the papers table).
            num(p.confidence, 2),
            p.id,
            p.title,
            _gold_text(p),
            _answer_text(p),
            p.evidence or "–",
            p.gold_notes or "–",
        ]
        for p in hardest_papers(report.papers)
    ]
    return HARDEST_HEADER, rows


# --------------------------------------------------------------------------- markdown


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(s: str) -> str:
        return md_text(s).replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_paper_row(p: PaperRow) -> list[str]:
    flag = f"{UNGROUNDED_MARK} {', '.join(p.ungrounded)}" if p.ungrounded else ""
    mark = RIGHT_MARK if p.correct else WRONG_MARK
    return [mark, p.id, p.gold, p.answer, num(p.confidence, 2), num(p.rouge_l, 2), flag, p.title]


def render_markdown(report: EvalReport) -> str:
    """The report as Markdown: same sections as the HTML, readable in a diff or a PR."""
    cm = report.confusion
    out = [f"# paper-agent eval: {md_text(report.dataset or 'dataset')}", "", f"Produced by {producer(report)}."]
    if notice := offline_notice(report):
        out += ["", f"> **{notice}**"]
    out += [line for text in agreement_lines(report) for line in ("", text)]
    sections: list[tuple[str, Table]] = [
        ("Headline", (["metric", "value", ""], [list(r) for r in _headline(report)])),
        ("Run", (["fact", "value"], [list(r) for r in _fact_rows(report)])),
        (
            "Confusion matrix (rows gold, columns predicted)",
            (["gold \\ predicted", *cm.columns], [[g, *map(str, c)] for g, c in zip(cm.rows, cm.counts)]),
        ),
        ("Per class", _per_class_table(report)),
        (f"Calibration (ECE {num(report.ece)})", _calibration_table(report)),
        ("Coverage vs accuracy", _coverage_table(report)),
        ("TL;DR", (["check", "value"], [list(r) for r in _tldr_rows(report)])),
        (hardest_heading(report), _hardest_md_table(report)),
        (
            "Papers",
            (
                ["", "id", "gold", "answer", "confidence", "ROUGE-L", "ungrounded", "title"],
                [_md_paper_row(p) for p in report.papers],
            ),
        ),
    ]
    for title, (header, rows) in sections:
        out += ["", f"## {title}", "", _md_table(header, rows)]
        if title == "TL;DR":
            out += [line for text in tldr_warning_lines(report) for line in ("", f"**{md_text(text)}**")]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem;margin-bottom:.2rem}
h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.producer,.muted,.card .ci{color:#57606a}
.notice{background:#fff8c5;border:1px solid #d4a72c;padding:.6rem .8rem;border-radius:6px;font-weight:600}
.headline{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:12rem}
.card .v{font-size:1.6rem;font-weight:700}
table.cm td{text-align:center;min-width:3.2rem}
table.cm td.diag{outline:2px solid #1a7f37;outline-offset:-2px}
table.cm th.noanswer,table.cm td.noanswer{border-left:3px dashed #cf222e}
table.cm th.noanswer{background:#ffebe9;color:#82071e}
tr.wrong td{background:#ffebe9}tr.wrong td.mark{color:#cf222e;font-weight:700}td.mark{color:#1a7f37}
td.ungrounded{background:#fff8c5}span.flag{color:#9a6700;font-weight:600}
figure.chart{margin:.75rem 0}figure.chart figcaption{color:#57606a;max-width:42rem;font-size:.9em}
.charts{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}
p.agreement{margin:.4rem 0}table.hardest td{max-width:26rem}
"""


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _grid_table(header: list[str], rows: list[list[str]]) -> str:
    """First column is a name, the rest are numbers (right-aligned)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = ""
    for name, *values in rows:
        cells = "".join(f'<td class="n">{escape(v)}</td>' for v in values)
        body += f"<tr><th>{escape(name)}</th>{cells}</tr>"
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell_style(count: int, peak: int, rgb: str) -> str:
    # A floor, so a single misclassified paper is visible next to a diagonal of 15.
    alpha = 0.12 + 0.88 * count / peak if count and peak else 0.0
    fg = "#fff" if alpha > 0.55 else "#1f2328"
    return f"background:rgba({rgb},{alpha:.2f});color:{fg}"


def _confusion_html(report: EvalReport) -> str:
    """Colour-scaled grid: green diagonal, blue confusions, a red dashed no-answer column."""
    cm = report.confusion
    peak = max((c for row in cm.counts for c in row), default=0)
    head = "".join(
        f'<th class="noanswer">{escape(f"{NO_ANSWER_MARK} {col}")}</th>'
        if col == NO_ANSWER
        else f"<th>{escape(col)}</th>"
        for col in cm.columns
    )
    body = []
    for gold, counts in zip(cm.rows, cm.counts):
        cells = []
        for col, count in zip(cm.columns, counts):
            cls = "noanswer" if col == NO_ANSWER else ("diag" if col == gold else "")
            rgb = "207,34,46" if col == NO_ANSWER else ("26,127,55" if col == gold else "37,99,235")
            cells.append(f'<td class="{cls}" style="{_cell_style(count, peak, rgb)}">{count}</td>')
        body.append(f"<tr><th>{escape(gold)}</th>{''.join(cells)}</tr>")
    return f'<table class="cm"><tr><th>gold \\ predicted</th>{head}</tr>{"".join(body)}</table>'


def _paper_row_html(p: PaperRow) -> str:
    """A wrong label makes the row red with ✗; an ungrounded TL;DR turns its cell yellow with ⚠."""
    title = escape(p.title)
    url = http_url(p.url)
    if url:
        title = f'<a href="{escape(url)}">{title}</a>'
    answer = escape(p.answer)
    if p.error and not p.predicted:
        answer += f'<br><span class="muted">{escape(p.error)}</span>'
    tldr = escape(p.tldr) or '<span class="muted">(none)</span>'
    tldr_cls = ""
    if p.ungrounded:
        tldr_cls = ' class="ungrounded"'
        flagged = escape(", ".join(p.ungrounded))
        tldr += f'<br><span class="flag">{UNGROUNDED_MARK} ungrounded: {flagged}</span>'
    if p.dangling:
        tldr += f'<br><span class="flag">{UNGROUNDED_MARK} dangling: {escape(", ".join(p.dangling))}</span>'
    mark, row_cls = (RIGHT_MARK, "right") if p.correct else (WRONG_MARK, "wrong")
    return (
        f'<tr class="{row_cls}"><td class="mark">{mark}</td><td>{escape(p.id)}</td><td>{title}</td>'
        f'<td>{escape(p.gold)}</td><td>{answer}</td><td class="n">{p.confidence:.2f}</td>'
        f'<td{tldr_cls}>{tldr}</td><td class="n">{num(p.rouge_l, 2)}</td></tr>'
    )


def _agreement_html(report: EvalReport) -> str:
    return "".join(f'<p class="agreement">{escape(text)}</p>' for text in agreement_lines(report))


def _hardest_row_html(p: PaperRow) -> str:
    title = escape(p.title)
    if href := http_url(p.url):
        title = f'<a href="{escape(href)}">{title}</a>'
    gold = escape(p.gold)
    if p.gold_secondary:
        gold += f'<br><span class="muted">+ {escape(", ".join(p.gold_secondary))}</span>'
    answer = escape(p.answer)
    if p.predicted is None and p.error:
        answer += f'<br><span class="muted">{escape(p.error)}</span>'
    evidence = escape(p.evidence) or '<span class="muted">(none)</span>'
    note = escape(p.gold_notes) or '<span class="muted">(none)</span>'
    return (
        f'<tr><td class="n">{p.confidence:.2f}</td><td>{escape(p.id)}</td><td>{title}</td><td>{gold}</td>'
        f"<td>{answer}</td><td>{evidence}</td><td>{note}</td></tr>"
    )


def _hardest_html(report: EvalReport) -> str:
    """The wrong answers a person should read first, each with the backend's evidence and the labeller's note."""
    rows = hardest_papers(report.papers)
    heading = f"<h2>{escape(hardest_heading(report))}</h2>"
    if not rows:
        return f"{heading}<p>No wrong answers.</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in HARDEST_HEADER)
    body = "".join(_hardest_row_html(p) for p in rows)
    return f'{heading}<p class="muted">{escape(HARDEST_NOTE)}</p><table class="hardest"><tr>{head}</tr>{body}</table>'


def _confusion_figure(report: EvalReport) -> str:
    caption = (
        "Rows: gold label. Columns: predicted label; the last column, behind the red dashed line, counts "
        "papers with no answer. Darker cells hold more papers; outlined cells are right answers."
    )
    svg = confusion_heatmap(report.confusion, title="Confusion matrix: gold label against predicted")
    return figure(svg, caption)


def _f1_figure(report: EvalReport) -> str:
    caption = (
        f"Bars: F1 of each label. Whiskers: 95% percentile bootstrap CI ({report.n_boot} resamples, seed "
        f"{report.seed}); a wide whisker means few papers carry that label."
    )
    return figure(f1_bars([("this run", report.per_class)], title="Per-label F1 with 95% CI"), caption)


def reliability_caption(ece: float) -> str:
    """How to read a reliability diagram, with the ECE it summarises."""
    return (
        "Bars: accuracy of the papers in each confidence bin (the number above a bar is how many papers "
        "it holds). Dashed diagonal: perfect calibration; a bar below it means over-confidence. "
        f"ECE {num(ece)}."
    )


def _reliability_figure(report: EvalReport) -> str:
    svg = reliability_diagram(report.calibration, title="Reliability diagram: accuracy by confidence", ece=report.ece)
    return figure(svg, reliability_caption(report.ece))


def render_html(report: EvalReport) -> str:
    """One self-contained HTML page: inline CSS, no scripts, no external assets."""
    cards = "".join(
        f'<div class="card"><div>{escape(k)}</div><div class="v">{escape(v)}</div>'
        f'<div class="ci">{escape(note)}</div></div>'
        for k, v, note in _headline(report)
    )
    notice = offline_notice(report)
    papers = "".join(_paper_row_html(p) for p in report.papers)
    name = escape(report.dataset or "dataset")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>paper-agent eval: {name}</title><style>{CSS}</style></head><body>",
        f"<h1>paper-agent eval: {name}</h1>",
        f'<p class="producer">Produced by {escape(producer(report))}. {report.n} papers.</p>',
        f'<p class="notice">{escape(notice)}</p>' if notice else "",
        f'<h2>Headline</h2><div class="headline">{cards}</div>',
        _agreement_html(report),
        '<p class="muted">A paper with no usable answer (invalid, error, skipped, missing) is wrong.</p>',
        f"<h2>Run</h2>{_kv_table(_fact_rows(report))}",
        (
            '<h2>Confusion matrix</h2><p class="muted">Rows: gold label. Columns: predicted label. '
            "Darker means more papers; green cells are correct; the red dashed column is papers "
            "with no answer.</p>"
        ),
        _confusion_figure(report),
        _confusion_html(report),
        f"<h2>Per class</h2>{_grid_table(*_per_class_table(report))}",
        _f1_figure(report),
        f"<h2>Calibration</h2><p>Expected calibration error: <b>{num(report.ece)}</b></p>",
        _reliability_figure(report),
        _grid_table(*_calibration_table(report)),
        f"<h2>Coverage vs accuracy</h2>{_grid_table(*_coverage_table(report))}",
        f"<h2>TL;DR</h2>{_kv_table(_tldr_rows(report))}",
        "".join(f'<p class="notice">{escape(w)}</p>' for w in tldr_warning_lines(report)),
        _hardest_html(report),
        (
            f'<h2>Papers</h2><p class="muted">{WRONG_MARK} wrong primary label (red row); '
            f"{UNGROUNDED_MARK} TL;DR with a number or term not in the title or abstract (yellow).</p>"
        ),
        (
            "<table><tr><th></th><th>id</th><th>title</th><th>gold</th><th>answer</th>"
            f"<th>confidence</th><th>TL;DR</th><th>ROUGE-L</th></tr>{papers}</table>"
        ),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def write_files(out_dir: str | Path, files: dict[str, tuple[str, str]], what: str) -> dict[str, Path]:
    """Write ``{key: (file name, text)}`` into ``out_dir`` (created if needed); paths by key."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in files.values():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{out}: cannot write {what} ({exc.strerror or exc})") from None
    return {key: out / name for key, (name, _) in files.items()}


def write_reports(report: EvalReport, out_dir: str | Path) -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md`` and ``report.html`` into ``out_dir`` (created if needed)."""
    files = {
        "json": ("metrics.json", report.model_dump_json(indent=2) + "\n"),
        "markdown": ("report.md", render_markdown(report)),
        "html": ("report.html", render_html(report)),
    }
    return write_files(out_dir, files, "eval reports")
