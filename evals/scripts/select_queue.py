"""Select the pool papers to hand-label (issue 9), reproducibly.

A real cs.IR day is mostly ``other``; a uniform sample of the pool would give a few dozen
``rl_rec`` or ``debiasing`` papers at best. So the queue is stratified by *candidate* label:
a paper is a candidate for a label when the offline baseline (cue-scorer v5, the model shipped
before this dataset existed) predicts it, or when a broad keyword for that label occurs in the
title or abstract. Candidates only order and fill the queue: every label is then decided by a
person reading the paper, and many candidates end up ``other``.

    python evals/scripts/select_queue.py ../shared/pool/cs_ir_pool.jsonl > queue.jsonl

Quotas per candidate stratum (drawn at random with a fixed seed, a paper counted once, strata
filled in this order because the rarer labels come first), then a uniform random sample of the
papers left, which is what keeps ``other`` (and the mix of a real day) in the data.
"""

from __future__ import annotations

import json
import random
import re
import sys

SEED = 20261202
KEYWORDS = {
    "rl_rec": r"reinforcement|policy optimi|\bgrpo\b|\bppo\b|actor-critic|bandit|\breward",
    "debiasing": r"\bbias|debias|fairness|\bunfair|denois|noisy|long-tail|popularity",
    "generative_rec": r"semantic id|generative rec|generative retrieval|tokeniz|docid|\bsids?\b",
    "rag": r"retrieval-augmented|retrieval augmented|\brag\b|graphrag",
}
QUOTAS = {"rl_rec": 125, "debiasing": 140, "generative_rec": 115, "rag": 105}
RANDOM_REST = 165


def main(pool_path: str) -> None:
    from agent import Agent, Paper

    rows = [json.loads(line) for line in open(pool_path, encoding="utf-8")]
    agent = Agent(backend="offline")
    preds = {
        r.id: r.primary
        for r in agent.analyze_many(Paper(id=p["id"], title=p["title"], abstract=p["abstract"]) for p in rows)
    }
    rng = random.Random(SEED)
    chosen: dict[str, str] = {}
    for label, quota in QUOTAS.items():
        pattern = re.compile(KEYWORDS[label])
        cands = [
            p["id"]
            for p in rows
            if p["id"] not in chosen
            and (preds[p["id"]] == label or pattern.search((p["title"] + " " + p["abstract"]).lower()))
        ]
        for pid in rng.sample(cands, min(quota, len(cands))):
            chosen[pid] = f"candidate:{label}"
    rest = [p["id"] for p in rows if p["id"] not in chosen]
    for pid in rng.sample(rest, RANDOM_REST):
        chosen[pid] = "random"
    order = list(chosen)
    rng.shuffle(order)
    by_id = {p["id"]: p for p in rows}
    for pid in order:
        p = by_id[pid]
        out = {k: p[k] for k in ("id", "title", "authors", "abstract")}
        out["stratum"] = chosen[pid]
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
