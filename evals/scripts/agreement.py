"""Inter-annotator agreement: the first labels of the test set against an independent second pass.

    python evals/scripts/agreement.py evals/second_pass.jsonl

The second annotator labelled a random sample of the labelling queue from the guide alone,
without seeing the first labels. Of the papers that landed in ``test``, a random 80 (fixed seed)
are scored: raw agreement and Cohen's kappa on the primary label, and every disagreement with
both annotators' notes, for settling in the dataset notes. Writes ``evals/agreement.md`` and the
``human_agreement`` entry of ``evals/datasets.json``, which eval reports quote as the ceiling any
backend is judged against.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.evaluate.stats import cohen_kappa  # noqa: E402

SEED = 80
N = 80


def main(second_path: str) -> None:
    test = {json.loads(line)["id"]: json.loads(line) for line in open(ROOT / "evals" / "test.jsonl", encoding="utf-8")}
    second = {json.loads(line)["id"]: json.loads(line) for line in open(second_path, encoding="utf-8")}
    # Score the labels as the first pass wrote them (before disagreements were settled).
    settled = json.loads((ROOT / "evals" / "scripts" / "settled.json").read_text(encoding="utf-8"))
    for pid, fix in settled.items():
        if pid in test:
            test[pid] = {**test[pid], "primary": fix["first"], "settled": fix}
    pool = sorted(set(second) & set(test))
    sample = sorted(random.Random(SEED).sample(pool, min(N, len(pool))))
    first_labels = [test[i]["primary"] for i in sample]
    second_labels = [second[i]["primary"] for i in sample]
    kappa = cohen_kappa(first_labels, second_labels)
    agree = sum(x == y for x, y in zip(first_labels, second_labels)) / len(sample)
    lines = [
        "# Human agreement on the test set",
        "",
        f"A second annotator labelled {len(second)} randomly chosen papers of the labelling queue from the",
        "labeling guide alone, without seeing the first labels. Of those that landed in `test`",
        f"({len(pool)}), a random {len(sample)} (seed {SEED}) are scored here.",
        "",
        f"- raw agreement on the primary label: **{agree:.3f}** ({sum(x == y for x, y in zip(first_labels, second_labels))}/{len(sample)})",
        f"- Cohen's kappa: **{kappa:.3f}**",
        "",
        "| first \\ second | " + " | ".join(sorted(set(first_labels) | set(second_labels))) + " |",
        "|---|" + "---|" * len(set(first_labels) | set(second_labels)),
    ]
    labs = sorted(set(first_labels) | set(second_labels))
    pairs = Counter(zip(first_labels, second_labels))
    for x in labs:
        lines.append(f"| {x} | " + " | ".join(str(pairs[(x, y)]) for y in labs) + " |")
    lines += ["", "## Disagreements and how each was settled", ""]
    for pid in sample:
        if test[pid]["primary"] != second[pid]["primary"]:
            lines += [
                f"- **{pid}** {test[pid]['title']}",
                f"  - first: `{test[pid]['primary']}`"
                + ("" if "settled" in test[pid] else f" {test[pid]['secondary']}: {test[pid]['notes']}"),
                f"  - second: `{second[pid]['primary']}` {second[pid]['secondary']}: {second[pid]['notes']}",
                f"  - settled: `{test[pid]['settled']['primary']}`: {test[pid]['settled']['notes']}"
                if "settled" in test[pid]
                else "  - settled: not yet (add it to evals/scripts/settled.json)",
            ]
    (ROOT / "evals" / "agreement.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    meta_path = ROOT / "evals" / "datasets.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    meta.setdefault("test", {})["human_agreement"] = {
        "kappa": round(kappa, 3),
        "agreement": round(agree, 3),
        "n": len(sample),
    }
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"n={len(sample)} agreement={agree:.3f} kappa={kappa:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
