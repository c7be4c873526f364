"""What every ``paper-agent`` command shares: the typer apps, the common options, logging,
the agent factory and the run summary. The commands themselves live in the sibling modules."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Triage arXiv digests: method-type labels, English TL;DRs, cached results, evals.",
)
cache_app = typer.Typer(no_args_is_help=True, help="Inspect or empty the result cache.")
eval_app = typer.Typer(
    help="Score the agent against hand labels (default: the frozen test split), or compare two runs."
)
batch_app = typer.Typer(
    no_args_is_help=True, help="Bulk triage: OpenAI Batch API jobs (half price) and request files for any engine."
)


def _print_version(value: bool) -> None:
    """``--version``: print the version and stop before any command runs (an eager option)."""
    if value:
        from agent.version import __version__

        typer.echo(f"paper-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _top(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
    ),
) -> None:
    """Triage arXiv digests: method-type labels, English TL;DRs, cached results, evals."""


app.add_typer(cache_app, name="cache")
app.add_typer(eval_app, name="eval")
app.add_typer(batch_app, name="batch")
err = Console(stderr=True)

BackendOpt = typer.Option(None, "--backend", help="auto | offline | openai (default: auto)")
ModelOpt = typer.Option(None, "--model", help="Model name (PAPER_AGENT_MODEL)")
BaseUrlOpt = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint (OPENAI_BASE_URL)")
TaxonomyOpt = typer.Option(None, "--taxonomy", help="Taxonomy TOML file (default: built-in)")
ModelFileOpt = typer.Option(
    None, "--model-file", help="Offline model from `paper-agent train`, for its taxonomy (PAPER_AGENT_MODEL_FILE)"
)
CacheDirOpt = typer.Option(None, "--cache-dir", help="Cache folder (PAPER_AGENT_CACHE_DIR)")
DateOpt = typer.Option(None, "--date", help="arXiv: papers submitted on this day, YYYY-MM-DD (UTC)")
SinceOpt = typer.Option(None, "--since", help="arXiv: papers submitted from this day (YYYY-MM-DD)")
UntilOpt = typer.Option(None, "--until", help="arXiv: ... to this day, inclusive (default: today)")
CrossOpt = typer.Option(
    True, "--cross-lists/--no-cross-lists", help="arXiv: keep papers cross-listed from other categories"
)


def setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root = logging.getLogger("agent")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    root.propagate = False


def make_agent(**kwargs: object):  # noqa: ANN202 - returns agent.Agent, imported lazily
    from agent.pipeline import Agent

    backend = kwargs.pop("backend", None) or "auto"
    agent = Agent(backend=backend, **{k: v for k, v in kwargs.items() if v is not None})  # type: ignore[arg-type]
    model = kwargs.get("model")
    if model is not None and backend == "auto" and agent.backend.name == "offline":
        # --model asks for that model: answering with the offline baseline (a note line that
        # scrolls away) would be mistaken for the model's results.
        agent.close()
        from agent.errors import ConfigError

        raise ConfigError(
            f"--model {model}: no LLM endpoint configured; set OPENAI_API_KEY, or OPENAI_BASE_URL / --base-url "
            "for another service (drop --model to use the offline baseline)"
        )
    return agent


def print_summary(stats, elapsed_label: str = "elapsed", reused_from: Path | None = None) -> None:  # noqa: ANN001
    table = Table(title="paper-agent summary", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, n in sorted(stats.labels.items(), key=lambda kv: -kv[1]):
        table.add_row(f"label {label}", str(n))
    for status, n in stats.statuses.items():
        table.add_row(f"status {status}", str(n))
    table.add_row("cached / new", f"{stats.cached} / {stats.new}")
    if stats.reused:
        table.add_row(f"reused from {escape(str(reused_from))}", str(stats.reused))
    if stats.skipped_files:
        table.add_row("skipped files (see warnings)", str(stats.skipped_files))
    if stats.left_out:
        table.add_row("left out by --only / --min-confidence", str(stats.left_out))
    if stats.prompt_tokens or stats.completion_tokens:
        table.add_row("tokens prompt / completion", f"{stats.prompt_tokens} / {stats.completion_tokens}")
        cost = f"${stats.cost_usd:.4f}" + (f" (+{stats.unpriced} unpriced)" if stats.unpriced else "")
        table.add_row("cost", cost)
    table.add_row(elapsed_label, f"{stats.elapsed_s:.2f} s")
    err.print(table)


def progress_bar(description: str = "triaging") -> Progress:
    """A progress bar on stderr, shown only on a terminal (logs and CI stay clean)."""
    return Progress(
        SpinnerColumn(),
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    )


def note(text: str) -> None:
    """One yellow ``note:`` line on stderr; the text is escaped (it may quote paper or server text)."""
    err.print(f"[yellow]note:[/] {escape(text)}", highlight=False, soft_wrap=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where SIGINT raises ``KeyboardInterrupt``: both stop a run the same way
    (rows kept, one ``interrupted:`` line), and the exit status says which (143, 130)."""


_SIGTERM_SEEN: list[int] = []


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    _SIGTERM_SEEN.append(signum)
    raise Terminated


def terminated() -> bool:
    """A SIGTERM arrived in this process (``main`` then exits 143 where typer says 130)."""
    return bool(_SIGTERM_SEEN)


def install_sigterm() -> None:
    """``kill`` (a CI timeout, a supervisor) stops a command like Ctrl-C instead of silently."""
    signal.signal(signal.SIGTERM, on_sigterm)


def interrupt_status(exc: BaseException) -> int:
    """128 + the signal number, as a shell reports a command the signal stopped."""
    return 128 + (signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


def kept_rows(output: Path | None) -> str:
    """Where an unfinished run left its rows: `` and out.jsonl.partial``, or `` and stdout``."""
    if output is None:
        return " and stdout"
    partial = output.with_name(output.name + ".partial")
    return f" and {escape(str(partial))}" if partial.exists() else ""


def interrupted(exc: BaseException, output: Path | None) -> typer.Exit:
    """Print ``run``'s interrupted line; return the exit to raise (130 for SIGINT, 143 for SIGTERM)."""
    err.print(f"interrupted: finished results are in the cache{kept_rows(output)}; run again to resume")
    return typer.Exit(interrupt_status(exc))
