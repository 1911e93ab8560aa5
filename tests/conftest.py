"""Shared fixtures of the reader, vocabulary, windows, config and CLI tests: kept small on purpose."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from threadpoolctl import threadpool_limits

# Hypothesis: a short profile for every run (CI), a long one on demand: HYPOTHESIS_PROFILE=long pytest ...
# or pytest --hypothesis-profile=long ... (docs/usage.md). No deadline: a shared machine is slow at times.
settings.register_profile("ci", max_examples=25, deadline=None)
settings.register_profile("long", max_examples=2_000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def one_blas_thread():
    """Tiny matrix products on a shared machine: one BLAS thread, as windowner itself chooses."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True, scope="session")
def no_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The word-vector cache of the whole session (module fixtures too) is a temporary folder, never the
    user's ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WINDOWNER_CACHE_DIR", str(tmp_path_factory.mktemp("session-vectors-cache")))
        yield


@pytest.fixture(autouse=True)
def vectors_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's word-vector cache is a fresh temporary folder."""
    folder = tmp_path_factory.mktemp("vectors-cache")
    monkeypatch.setenv("WINDOWNER_CACHE_DIR", str(folder))
    return folder


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
