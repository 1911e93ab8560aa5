"""Shared fixtures of the reader, vocabulary, windows, config and CLI tests: kept small on purpose."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(name, text)`` writes ``text`` (UTF-8, newlines as given) under ``tmp_path``, returns the path.

    ``write(name, data=b"...")`` writes bytes instead.
    """

    def _write(name: str, text: str = "", *, data: bytes | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        else:
            path.write_bytes(text.encode("utf-8"))
        return path

    return _write
