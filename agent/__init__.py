"""paper-agent: turn daily arXiv digests into a triaged reading list.

The public surface; everything else is internal::

    from agent import Agent, load_papers
    agent = Agent()                      # offline baseline unless an LLM endpoint is configured
    for result in agent.analyze_many(load_papers(["digest.md"])):
        print(result.primary, result.tldr)
"""

from agent.backends.base import Analysis, Backend
from agent.batch import triage
from agent.check import CheckReport, check_endpoint
from agent.bulk import (
    BatchRecord,
    CollectReport,
    batch_cancel,
    batch_collect,
    batch_export,
    batch_import,
    batch_list,
    batch_status,
    batch_submit,
    triage_batch,
)
from agent.errors import (
    BatchError,
    BatchNotReady,
    ConfigError,
    DatasetError,
    InputError,
    OutputError,
    PaperAgentError,
    TaxonomyError,
)
from agent.ingest import detect_format, iter_papers, load_papers, parse_text
from agent.fetch import FetchError, FetchResult, fetch_papers
from agent.evaluate import (
    Comparison,
    EvalReport,
    compare,
    evaluate,
    load_dataset,
    load_results,
    run_eval,
    score_file,
    write_reports,
)
from agent.outputs import render_markdown
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult, Usage
from agent.settings import Settings
from agent.taxonomy import Taxonomy, load_taxonomy

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "Analysis",
    "Backend",
    "CheckReport",
    "BatchError",
    "BatchNotReady",
    "BatchRecord",
    "CollectReport",
    "Comparison",
    "ConfigError",
    "EvalReport",
    "FetchError",
    "FetchResult",
    "DatasetError",
    "InputError",
    "OutputError",
    "Paper",
    "PaperAgentError",
    "PaperResult",
    "RunStats",
    "Settings",
    "Taxonomy",
    "TaxonomyError",
    "Usage",
    "check_endpoint",
    "batch_cancel",
    "batch_collect",
    "batch_export",
    "batch_import",
    "batch_list",
    "batch_status",
    "batch_submit",
    "compare",
    "detect_format",
    "evaluate",
    "fetch_papers",
    "iter_papers",
    "load_dataset",
    "load_papers",
    "load_results",
    "load_taxonomy",
    "parse_text",
    "render_markdown",
    "run_eval",
    "score_file",
    "triage",
    "triage_batch",
    "write_reports",
]
