"""The eval harness: score saved runs against hand-labelled papers, report, compare runs.

Shaped like inspect_ai's sample -> model -> score -> metric: the dataset is a JSONL file, the
run is a list of ``PaperResult`` (saved as ``results.jsonl``), and every metric is a pure
function of those two, so a report can be recomputed without calling any model.
"""

from agent.evaluate.compare import Comparison, compare, format_comparison_text, load_run, write_comparison
from agent.evaluate.dataset import DatasetItem, check_labels, dataset_papers, load_dataset
from agent.evaluate.metrics import NO_ANSWER, EvalReport, HumanAgreement, evaluate
from agent.evaluate.report import write_reports
from agent.evaluate.runner import default_dataset, run_eval, score_file
from agent.evaluate.stats import mcnemar_exact
from agent.outputs import load_results

__all__ = [
    "NO_ANSWER",
    "Comparison",
    "DatasetItem",
    "EvalReport",
    "HumanAgreement",
    "check_labels",
    "compare",
    "default_dataset",
    "dataset_papers",
    "evaluate",
    "format_comparison_text",
    "load_dataset",
    "load_results",
    "load_run",
    "mcnemar_exact",
    "run_eval",
    "score_file",
    "write_comparison",
    "write_reports",
]
