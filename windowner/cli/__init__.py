"""The command line: ``windowner train``, ``eval``, ``predict``, ``package``, ``plot``, ``gradcheck``,
``compare`` and ``sweep``.

A thin layer over the Python API, a module a command (or a family of commands); :mod:`.main` holds the
group and the edge that turns every user error into one line on stderr and an exit status.

May import: every stage of windowner.
"""

from . import evaluate, experiments, gradcheck, package, plot, predict, train  # noqa: F401 (their commands)
from .main import main, run

__all__ = ["main", "run"]
