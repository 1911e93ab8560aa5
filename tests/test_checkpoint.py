"""Tests of windowner.tagging.checkpoint: a checkpoint reads back exactly, without pickle; damage is an
error."""

from __future__ import annotations

import numpy as np
import pytest

from windowner.base.errors import WindownerError
from windowner.tagging.checkpoint import Checkpoint, fingerprint, load_checkpoint, save_checkpoint


def test_a_checkpoint_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(7)
    rng.random(3)
    params = {"W": rng.normal(size=(3, 4)).astype(np.float32), "c": np.zeros(2, np.float32)}
    optimizer = {"t": np.array(12), "W.m": rng.normal(size=(3, 4)).astype(np.float32)}
    state = Checkpoint(
        epoch=3,
        batch=17,
        step=2051,
        rng_epoch=rng.bit_generator.state,
        rng=np.random.default_rng(8).bit_generator.state,
        total=0.1 + 0.2,  # 0.30000000000000004: floats go through JSON exactly
        seen=544,
        seconds=1.5,
        history=[{"epoch": 1, "loss": 1 / 3}],
        best_score=2 / 3,
        best_epoch=2,
        losses={"start": 0.7, "span": 20, "recent": [0.1, 1e-300]},
        start=fingerprint(params),
    )
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, state, params, optimizer, threshold=0.25)
    saved = load_checkpoint(path)
    assert saved.checkpoint == state
    assert saved.threshold == 0.25
    assert saved.params.keys() == params.keys() and saved.optimizer.keys() == optimizer.keys()
    for name, value in params.items():
        assert saved.params[name].dtype == value.dtype and np.array_equal(saved.params[name], value)
    assert int(saved.optimizer["t"]) == 12 and np.array_equal(saved.optimizer["W.m"], optimizer["W.m"])
    again = np.random.default_rng()
    again.bit_generator.state = saved.checkpoint.rng_epoch
    assert again.random() == rng.random()  # the generator goes on where it was
    with np.load(path, allow_pickle=False) as archive:  # a plain .npz: nothing needs pickle
        assert "state" in archive.files and archive["state"].dtype == np.uint8


def test_fingerprint_tells_models_apart():
    W = np.ones((2, 2), np.float32)
    assert fingerprint({"W": W}) == fingerprint({"W": W.copy()})
    assert fingerprint({"W": W}) != fingerprint({"W": W.astype(np.float64)})
    changed = W.copy()
    changed[1, 1] = np.nextafter(np.float32(1), np.float32(2))
    assert fingerprint({"W": W}) != fingerprint({"W": changed})


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really", b"not a zip at all"])
def test_a_damaged_checkpoint_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    with pytest.raises(WindownerError, match=f"{path}: not a windowner checkpoint"):
        load_checkpoint(path)


def test_a_checkpoint_without_its_state_is_an_error(tmp_path):
    path = tmp_path / "checkpoint.npz"
    np.savez(path, **{"param.W": np.ones(2)})
    with pytest.raises(WindownerError, match="not a windowner checkpoint"):
        load_checkpoint(path)
    with pytest.raises(WindownerError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.npz")
