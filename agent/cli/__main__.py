"""``python -m agent.cli``: the same as the ``paper-agent`` script."""

from agent.cli import main

main()
