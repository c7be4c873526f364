"""Synthetic papers and input files for the benchmarks and the robustness tests.

Abstracts are stitched from sentences of the 40 real seed abstracts (``evals/seed_dataset.jsonl``)
so their length (~1,200 characters), vocabulary and punctuation look like arXiv's, and ids are
unique new-style arXiv ids. Everything is seeded: the same call writes the same bytes.
"""

from __future__ import annotations

import json
import random
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SEED_DATASET = ROOT / "evals" / "seed_dataset.jsonl"
TITLE_WORDS = (
    "Generative Retrieval Dense Sparse Graph Neural Sequential Recommendation Large Language Model "
    "Contrastive Learning Multi-Modal Cross-Domain Cold-Start Debiasing Reranking Query Expansion "
    "Knowledge Distillation Efficient Scalable Federated Conversational Agentic Evaluation Benchmark "
    "Click-Through Prediction Session-Based Diffusion Reinforcement Semantic IDs Tokenization"
).split()
CHINESE_TLDR = (
    "提出了一种新的推荐框架，通过大语言模型增强用户建模，在多个公开数据集上显著优于现有方法。",
    "该工作研究检索增强生成中的噪声问题，设计了一个轻量级的重排序模块并验证了其有效性。",
    "作者构建了一个新的评测基准，系统比较了稠密检索与稀疏检索在长文档场景下的表现。",
)


def _sentences() -> list[str]:
    out: list[str] = []
    for line in SEED_DATASET.read_text(encoding="utf-8").splitlines():
        if line.strip():
            abstract = json.loads(line).get("abstract", "")
            out += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", abstract) if len(s) > 30]
    return out


def paper_id(i: int) -> str:
    """Unique new-style ids: 2501.00000 .. 2501.99999, then 2502.00000 ..."""
    return f"{2501 + i // 100_000}.{i % 100_000:05d}"


def papers(n: int, seed: int = 0, abstract_chars: int = 1200, start: int = 0) -> Iterator[dict]:
    """``n`` paper dicts: id, title, authors, abstract, categories, tldr (Chinese, like the digests)."""
    rnd = random.Random(seed)
    pool = _sentences()
    for i in range(start, start + n):
        words = rnd.sample(TITLE_WORDS, 6)
        title = f"{' '.join(words[:3])} for {' '.join(words[3:])} ({i})"
        parts: list[str] = []
        size = 0
        while size < abstract_chars:
            s = rnd.choice(pool)
            parts.append(s)
            size += len(s) + 1
        yield {
            "id": paper_id(i),
            "title": title,
            "authors": [f"Author {rnd.randrange(10_000)}" for _ in range(rnd.randint(2, 6))],
            "abstract": " ".join(parts),
            "categories": ["cs.IR"] + rnd.sample(["cs.LG", "cs.CL", "cs.AI"], 1),
            "tldr": rnd.choice(CHINESE_TLDR),
        }


# ---------------------------------------------------------------------------- file formats


def write_jsonl(path: Path, items: Iterator[dict], ai_enhanced: bool = True) -> Path:
    """daily-arXiv-ai-enhanced records (id, title, authors, summary, abs, AI{tldr}) or our own."""
    with open(path, "w", encoding="utf-8") as f:
        for p in items:
            if ai_enhanced:
                rec = {
                    "id": p["id"],
                    "categories": p["categories"],
                    "pdf": f"https://arxiv.org/pdf/{p['id']}",
                    "abs": f"https://arxiv.org/abs/{p['id']}",
                    "authors": p["authors"],
                    "title": p["title"],
                    "comment": "Accepted at a conference",
                    "summary": p["abstract"],
                    "AI": {
                        "tldr": p["tldr"],
                        "motivation": "动机。",
                        "method": "方法。",
                        "result": "结果。",
                        "conclusion": "结论。",
                    },
                }
            else:
                rec = {k: p[k] for k in ("id", "title", "authors", "abstract")}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def digest_entry(n: int, p: dict) -> str:
    wrapped = "\n".join(textwrap.wrap("Abstract: " + p["abstract"], 80, break_on_hyphens=False, break_long_words=False))
    return (
        f"### [{n}] [{p['title']}](https://arxiv.org/abs/{p['id']})\n"
        f"*{','.join(p['authors'])}*\n\n"
        f"Main category: {p['categories'][0]}\n\n"
        f"TL;DR: {p['tldr']}\n\n\n"
        "<details>\n  <summary>Details</summary>\n"
        "Motivation: 现有方法难以处理该问题。\n\n"
        "Method: 提出新的模型结构。\n\n"
        "Result: 在公开数据集上取得提升。\n\n"
        "Conclusion: 方法有效。\n\n"
        f"{wrapped}\n\n</details>\n\n\n"
    )


def write_digest_md(path: Path, items: Iterator[dict]) -> Path:
    """The daily-arXiv digest: Chinese TL;DR, <details>, abstracts hard-wrapped at 80 columns."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("<div id=toc></div>\n\n# Table of Contents\n\n- [cs.IR](#cs.IR)\n\n\n")
        f.write("<div id='cs.IR'></div>\n\n# cs.IR [[Back]](#toc)\n\n")
        for n, p in enumerate(items, start=1):
            f.write(digest_entry(n, p))
    return path


def write_table_md(path: Path, items: Iterator[dict]) -> Path:
    """The arXiv Daily Report table; every abstract runs on to a second line starting with 2 spaces."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "# arXiv Daily Report - 28-Jan-2026\n\n| Title | Link | abstract | author |\n| --- | --- | --- | --- |\n"
        )
        for p in items:
            url = f"https://arxiv.org/abs/{p['id']}"
            a = p["abstract"]
            cut = a.find(". ", len(a) // 2)
            first, rest = (a[: cut + 1], a[cut + 2 :]) if cut > 0 else (a, "")
            f.write(f"| {p['title']} | [{url}]({url}) | {first}\n  {rest} | {', '.join(p['authors'])} |\n")
    return path


def write_atom(path: Path, items: Iterator[dict]) -> Path:
    """An arXiv API Atom feed."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
            "  <title>arXiv Query: cat:cs.IR</title>\n"
        )
        for p in items:
            authors = "".join(f"    <author><name>{escape(a)}</name></author>\n" for a in p["authors"])
            cats = "".join(
                f'    <category term="{c}" scheme="http://arxiv.org/schemas/atom"/>\n' for c in p["categories"]
            )
            f.write(
                "  <entry>\n"
                f"    <id>http://arxiv.org/abs/{p['id']}v1</id>\n"
                "    <updated>2026-01-28T00:00:00Z</updated>\n"
                f"    <title>{escape(p['title'])}</title>\n"
                f"    <summary>{escape(p['abstract'])}</summary>\n"
                f"{authors}"
                f'    <link href="http://arxiv.org/abs/{p["id"]}v1" rel="alternate" type="text/html"/>\n'
                f'    <arxiv:primary_category term="{p["categories"][0]}" scheme="http://arxiv.org/schemas/atom"/>\n'
                f"{cats}"
                "  </entry>\n"
            )
        f.write("</feed>\n")
    return path


WRITERS = {"digest-md": write_digest_md, "table-md": write_table_md, "jsonl": write_jsonl, "atom": write_atom}
