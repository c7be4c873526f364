"""A third queue: after two rounds, ``rl_rec`` still had under 40 papers and ``debiasing`` ~50.

Ranks the remaining pool papers by how many distinct RL terms their abstract uses (reward,
policy, reinforcement, RL, bandit, GRPO, PPO, MDP, Q-learning, actor-critic) and takes the top
``N_RL`` (ties by id), plus every remaining paper whose abstract names a bias, fairness or
noise problem. Keywords only fill the queue; every paper is labelled by reading it.

    python evals/scripts/select_supplement2.py POOL.jsonl queue.jsonl supplement.jsonl > supplement2.jsonl
"""

from __future__ import annotations

import json
import random
import re
import sys

SEED = 20261204
N_RL = 130
RL_TERMS = [
    r"\breward",
    r"\bpolic(?:y|ies)\b",
    r"reinforce",
    r"\bRL\b",
    r"bandit",
    r"GRPO",
    r"PPO",
    r"\bMDP\b",
    r"Q-learning",
    r"actor-critic",
    r"offline RL",
    r"exploration",
]
BIAS = re.compile(r"\bbias|fair|denois|noisy|long-tail|popularity|unbiased|debias|exposure", re.I)


def main(pool_path: str, *taken_paths: str) -> None:
    rows = [json.loads(line) for line in open(pool_path, encoding="utf-8")]
    taken: set[str] = set()
    for path in taken_paths:
        taken |= {json.loads(line)["id"] for line in open(path, encoding="utf-8")}
    rest = [p for p in rows if p["id"] not in taken]
    score = {p["id"]: sum(bool(re.search(t, p["abstract"], re.I)) for t in RL_TERMS) for p in rest}
    ranked = sorted((p for p in rest if score[p["id"]] >= 2), key=lambda p: (-score[p["id"]], p["id"]))
    chosen = [(p, "supplement2:rl-terms") for p in ranked[:N_RL]]
    ids = {p["id"] for p, _ in chosen}
    chosen += [(p, "supplement2:bias-terms") for p in rest if p["id"] not in ids and BIAS.search(p["abstract"])]
    random.Random(SEED).shuffle(chosen)
    for p, stratum in chosen:
        out = {k: p[k] for k in ("id", "title", "authors", "abstract")}
        out["stratum"] = stratum
        print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:])
