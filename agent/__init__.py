"""paper-agent: turn daily arXiv digests into a triaged reading list.

The public surface; everything else is internal::

    from agent import Agent, load_papers
    agent = Agent()                      # offline baseline unless an LLM endpoint is configured
    for result in agent.analyze_many(load_papers(["digest.md"])):
        print(result.primary, result.tldr)
"""

from agent.backends.base import Analysis, Backend
from agent.cache import cache_location, cache_stats, clear_cache
from agent.errors import (
    BatchError,
    BatchNotReady,
    ConfigError,
    DatasetError,
    FetchError,
    InputError,
    OutputError,
    PaperAgentError,
    TaxonomyError,
)
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
from agent.inputs import detect_format, iter_papers, load_papers, parse_text
from agent.outputs import render_html, render_markdown
from agent.pipeline import Agent, RunStats
from agent.schema import Paper, PaperResult, Usage
from agent.settings import Settings
from agent.taxonomy import Taxonomy, load_taxonomy
from agent.triage import triage
from agent.version import __version__ as __version__

# Imported on first use: they pull in httpx and tenacity, which a plain offline run never needs
# (importing them here doubled `import agent`, and every CLI command's start-up, to ~0.55 s).
_LAZY = {
    "CheckReport": "agent.check_report",
    "check_endpoint": "agent.check",
    "BatchRecord": "agent.bulk",
    "CollectReport": "agent.bulk",
    "batch_cancel": "agent.bulk",
    "batch_collect": "agent.bulk",
    "batch_export": "agent.bulk",
    "batch_import": "agent.bulk",
    "batch_list": "agent.bulk",
    "batch_status": "agent.bulk",
    "batch_submit": "agent.bulk",
    "triage_batch": "agent.bulk",
    "FetchResult": "agent.inputs.arxiv",
    "fetch_papers": "agent.inputs.arxiv",
    "train_model": "agent.training",
    "LabelSession": "agent.labeling",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


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
    "LabelSession",
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
    "cache_location",
    "cache_stats",
    "clear_cache",
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
    "render_html",
    "render_markdown",
    "run_eval",
    "score_file",
    "train_model",
    "triage",
    "triage_batch",
    "write_reports",
]
