"""The fields of a config schema: a default and its checks (:func:`option`), and the mark of a
required key (:data:`REQUIRED`). :mod:`windowner.config` reads a YAML file against the schema.
"""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any


def option(
    default: Any,
    *,
    choices: tuple = (),
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    word: bool = False,
    nonempty: bool = False,
    path: bool = False,
) -> Any:
    """A config field and its checks: ``minimum`` ≤ value (or ``above`` < value) ≤ ``maximum``; one of
    ``choices``; ``word``: a string without whitespace; ``nonempty``: not ``""``; ``path``: a file
    (not ``""``; made absolute, relative to the config file or, given with --set, to the current folder).
    """
    meta = {"choices": choices, "minimum": minimum, "above": above, "maximum": maximum}
    return field(default=default, metadata={**meta, "word": word, "nonempty": nonempty or word, "path": path})


REQUIRED: Any = dataclasses.MISSING
