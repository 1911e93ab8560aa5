"""The BLAS thread policy: the environment, the config key and the automatic choice."""

import pytest
from threadpoolctl import threadpool_info

from windowner.base.errors import WindownerError
from windowner.base.threads import ENVIRONMENT, automatic_threads, blas_threads, thread_count


def blas_counts() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_automatic_choice_is_one_thread():
    assert automatic_threads() == 1


def test_precedence(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    assert thread_count(0) == 1 and thread_count(2) == 2  # the config key wins over auto
    monkeypatch.setenv(ENVIRONMENT, "3")
    assert thread_count(2) == 3  # the environment wins over both
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(ENVIRONMENT, bad)
        with pytest.raises(WindownerError, match=ENVIRONMENT):
            thread_count()


def test_blas_threads_sets_the_library_and_restores_it(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    before = blas_counts()
    with blas_threads(2) as count:
        assert count == 2 and blas_counts() <= {2}
    assert blas_counts() == before
