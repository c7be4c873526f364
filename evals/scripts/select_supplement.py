"""A second, targeted queue: the rare labels needed more support than the first queue gave.

After the first 650 papers were labelled, ``rl_rec`` and ``debiasing`` had too few papers for a
test split with 30 of each. This queue takes every remaining pool paper whose *title* names RL
or a bias/noise/fairness problem, plus a random sample of those whose abstract says
"reinforcement learning", "debias", "popularity bias", "fairness" or "denoising". As before the
keywords only fill the queue; each paper is labelled by reading it (many turn out ``other``).

    python evals/scripts/select_supplement.py ../shared/pool/cs_ir_pool.jsonl queue.jsonl > supplement.jsonl
"""

from __future__ import annotations

import json
import random
import re
import sys

SEED = 20261203
TITLE_RL = re.compile(
    r"reinforcement|\brl\b|policy|grpo|ppo|bandit|reward|actor-critic|markov decision|q-learning|decision transformer",
    re.I,
)
TITLE_BIAS = re.compile(r"bias|fair|denois|noisy|noise|long-tail|popularity|exposure|conformity|unbiased", re.I)
ABSTRACT = re.compile(
    r"reinforcement learning|debias|popularity bias|fairness|denois|position bias|exposure bias", re.I
)
ABSTRACT_SAMPLE = 110


def main(pool_path: str, queue_path: str) -> None:
    rows = [json.loads(line) for line in open(pool_path, encoding="utf-8")]
    taken = {json.loads(line)["id"] for line in open(queue_path, encoding="utf-8")}
    rest = [p for p in rows if p["id"] not in taken]
    by_title = [p for p in rest if TITLE_RL.search(p["title"]) or TITLE_BIAS.search(p["title"])]
    ids = {p["id"] for p in by_title}
    by_abstract = [p for p in rest if p["id"] not in ids and ABSTRACT.search(p["abstract"])]
    rng = random.Random(SEED)
    chosen = [(p, "supplement:title") for p in by_title]
    chosen += [(p, "supplement:abstract") for p in rng.sample(by_abstract, min(ABSTRACT_SAMPLE, len(by_abstract)))]
    rng.shuffle(chosen)
    for p, stratum in chosen:
        out = {k: p[k] for k in ("id", "title", "authors", "abstract")}
        out["stratum"] = stratum
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
