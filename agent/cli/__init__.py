"""``paper-agent``: a thin command line over the Python API.

Each command parses options, calls one API function and turns ``PaperAgentError`` into a
one-line message and an exit code. Anything heavier belongs in the library. The commands
live in ``run`` (run, fetch), ``cache`` (cache, check), ``evals`` (eval), ``learn`` (label,
train) and ``batch``;
importing them registers them on ``app``.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from agent.cli import batch, cache, evals, learn, run  # noqa: F401  (registers the commands)
from agent.cli.common import app, err, install_sigterm, terminated
from agent.errors import PaperAgentError


def main() -> None:
    install_sigterm()
    try:
        app()
    except SystemExit as exc:
        # typer turns an uncaught KeyboardInterrupt into exit 130; our SIGTERM is one too.
        if exc.code == 130 and terminated():
            sys.exit(143)
        raise
    except PaperAgentError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)


__all__ = ["app", "main"]
