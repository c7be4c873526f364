"""What the end-of-run summary counts: only work done and money spent in this run."""

from __future__ import annotations

import json
from pathlib import Path

from agent import Agent, triage

DIGEST = """\
### [Dense Retrieval for Statutes](https://arxiv.org/abs/2501.00001)
*Ada Lovelace*

Abstract: We propose a dense retrieval model for statutes.
"""


def test_retry_errors_with_nothing_to_retry_reports_no_cost_and_no_new_papers(invoke, tmp_path: Path):
    (tmp_path / "d.md").write_text(DIGEST, encoding="utf-8")
    with Agent(backend="offline") as agent:
        triage(["d.md"], agent, output="out.jsonl")
    row = json.loads((tmp_path / "out.jsonl").read_text())
    row["usage"].update(prompt_tokens=900, completion_tokens=100, total_tokens=1000, cost_usd=0.25)
    (tmp_path / "out.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")

    with Agent(backend="offline") as agent:
        stats = triage(["d.md"], agent, output="out.jsonl", retry_errors="out.jsonl")
    assert (stats.new, stats.reused, stats.cost_usd, stats.prompt_tokens) == (0, 1, 0.0, 0)
    proc = invoke("run", "d.md", "--retry-errors", "out.jsonl")
    assert proc.exit_code == 0, proc.stderr
    assert "$0.25" not in proc.stderr and "reused from out.jsonl" in proc.stderr
