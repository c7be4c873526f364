"""Reading every kind of input into ``Paper`` records: digest files, folders, arXiv itself.

Formats (detected from content; ``input_format=`` overrides):

- ``digest-md`` and ``table-md``: the two markdown digests (``markdown``).
- ``jsonl`` and ``json``: our own ``Paper`` records or daily-arXiv-ai-enhanced's (``jsonl``).
- ``atom``: an arXiv API Atom feed saved to a file (``atom``).
- ``arxiv:cs.IR,cs.CL`` / ``arxiv:2510.12815``: fetched from arXiv (``arxiv``, ``arxiv_client``).

Whole-file problems raise ``InputError`` (one line, names the file). A malformed entry inside
an otherwise good file is skipped with a warning naming file and line, through the
``agent.inputs`` loggers, so one bad entry never costs the rest of the digest.

This package is a bottom layer: it imports only errors, schema, settings, cache and backoff.
The names below are its public surface. The arXiv fetcher is not re-exported here because it
imports httpx, which a run over files never needs: import ``agent.inputs.arxiv`` for it.
"""

from agent.inputs.atom import AtomFeed, read_atom
from agent.inputs.files import (
    InputFile,
    SkipHandler,
    check_file,
    expand_paths,
    is_arxiv_source,
    read_text,
    refuse_output_among_inputs,
)
from agent.inputs.formats import FORMATS, detect_format, parse_text
from agent.inputs.read import Inputs, iter_papers, load_papers, read_inputs
from agent.inputs.text import arxiv_id

__all__ = [
    "FORMATS",
    "AtomFeed",
    "InputFile",
    "Inputs",
    "SkipHandler",
    "arxiv_id",
    "check_file",
    "detect_format",
    "expand_paths",
    "is_arxiv_source",
    "iter_papers",
    "load_papers",
    "parse_text",
    "read_atom",
    "read_inputs",
    "read_text",
    "refuse_output_among_inputs",
]
