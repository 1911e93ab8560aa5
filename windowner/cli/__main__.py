"""``python -m windowner.cli``: the ``windowner`` command."""

from . import run

run()
