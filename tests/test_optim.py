"""Optimisers against their update rules written out by hand, and the lazy rules for look-up tables
against the dense rule where they must agree."""

import copy

import numpy as np
import pytest

from windowner.base.errors import WindownerError
from windowner.network.gradcheck import random_problem
from windowner.network.layers import SparseRows
from windowner.network.losses import Batch
from windowner.network.shape import ModelConfig
from windowner.optim import OPTIMIZERS, SGD, Adagrad, Adam, RMSprop, SparseAdam, make_optimizer
from windowner.optim.sgd import HISTORY
from windowner.training.loop import train_step


def reference(name, param, gradients, lrs, momentum=0.9):
    """The dense rules, written out for one parameter, one step after another."""
    state = {"m": np.zeros_like(param), "v": np.zeros_like(param), "G": np.zeros_like(param)}
    for t, (g, lr) in enumerate(zip(gradients, lrs, strict=True), start=1):
        if name == "sgd":
            param = param - lr * g
        elif name == "momentum":
            state["v"] = momentum * state["v"] + g
            param = param - lr * state["v"]
        elif name == "adagrad":
            state["G"] = state["G"] + g * g
            param = param - lr * g / (np.sqrt(state["G"]) + 1e-10)
        elif name == "rmsprop":
            state["v"] = 0.99 * state["v"] + 0.01 * g * g
            param = param - lr * g / (np.sqrt(state["v"]) + 1e-8)
        else:  # adam
            state["m"] = 0.9 * state["m"] + 0.1 * g
            state["v"] = 0.999 * state["v"] + 0.001 * g * g
            m_hat, v_hat = state["m"] / (1 - 0.9**t), state["v"] / (1 - 0.999**t)
            param = param - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return param


def build(name):
    return SGD(0.1, momentum=0.9) if name == "momentum" else make_optimizer(name, 0.1)


RULES = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


@pytest.mark.parametrize("name", RULES)
def test_dense_steps_follow_the_rule(name):
    rng = np.random.default_rng(0)
    start = rng.normal(size=(3, 4))
    gradients = [rng.normal(size=(3, 4)) for _ in range(6)]
    lrs = [0.1, 0.1, 0.05, 0.05, 0.2, 0.01]  # a schedule changes lr between steps
    params, optimizer = {"W": start.copy()}, build(name)
    for g, lr in zip(gradients, lrs, strict=True):
        optimizer.lr = lr
        optimizer.step(params, {"W": g})
    np.testing.assert_allclose(params["W"], reference(name, start, gradients, lrs), rtol=1e-12)


def test_sgd_by_hand():
    params = {"W": np.ones((2, 3)), "E": np.ones((4, 2))}
    grads = {"W": np.full((2, 3), 2.0), "E": SparseRows(np.array([1, 3]), np.array([[1.0, 2.0], [3.0, 4.0]]))}
    SGD(lr=0.1).step(params, grads)
    np.testing.assert_allclose(params["W"], 0.8)
    np.testing.assert_allclose(params["E"], [[1, 1], [0.9, 0.8], [1, 1], [0.7, 0.6]])


def test_adam_first_step_moves_by_lr_times_sign():
    params = {"b": np.zeros(3)}
    Adam(lr=0.01).step(params, {"b": np.array([5.0, -0.001, 0.0])})
    np.testing.assert_allclose(params["b"], [-0.01, 0.01, 0.0], rtol=1e-5)


def sparse_steps(rng, rows=12, dim=3, steps=40, touched=4):
    """Random sparse gradients: a few rows a step, some rows never touched, some seldom."""
    out = []
    for _ in range(steps):
        chosen = np.unique(rng.choice(rows - 2, size=touched))  # rows 10 and 11 never touched
        out.append(SparseRows(chosen, rng.normal(size=(len(chosen), dim))))
    return out


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_the_sparse_step_equals_the_dense_rule(name):
    """What a table's rows end with is what the dense rule gives them (after the epoch-end flush), though
    each step touched only the batch's rows; the learning rate changes between steps, as a schedule does."""
    rng = np.random.default_rng(1)
    start = rng.normal(size=(12, 3))
    steps = sparse_steps(rng)
    lrs = rng.uniform(0.01, 0.2, size=len(steps))
    sparse, dense = {"E": start.copy()}, {"E": start.copy()}
    lazy, eager = build(name), build(name)
    for g, lr in zip(steps, lrs, strict=True):
        lazy.lr = eager.lr = lr
        lazy.step(sparse, {"E": g})
        eager.step(dense, {"E": g.to_dense(start.shape)})
    lazy.flush(sparse)
    np.testing.assert_allclose(sparse["E"], dense["E"], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(sparse["E"][10:], start[10:])  # never touched: never moved
    if name == "rmsprop":  # the state too, once flushed
        np.testing.assert_allclose(lazy.state["E.v"], eager.state["E.v"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(("momentum", "history"), [(0.9, 40), (0.5, HISTORY)])
def test_momentum_catch_up_over_long_idle_stretches(momentum, history):
    """400 steps with rows untouched for long stretches (the last 100 touch row 0 only): at μ = 0.9 the
    shifts fill and start again every 39 steps; at μ = 0.5 a step's term reaches back 60 steps only
    (0.5^60 < 1e-18)."""
    rng = np.random.default_rng(2)
    start = rng.normal(size=(12, 3))
    sparse, dense = {"E": start.copy()}, {"E": start.copy()}
    lazy, eager = SGD(0.1, momentum=momentum), SGD(0.1, momentum=momentum)
    lazy.history = history
    alone = [SparseRows(np.array([0]), rng.normal(size=(1, 3))) for _ in range(100)]
    for g in sparse_steps(rng, steps=300, touched=2) + alone:
        lazy.step(sparse, {"E": g})
        eager.step(dense, {"E": g.to_dense(start.shape)})
    lazy.flush(sparse)
    assert int(lazy.state["E.base"]) == 400 and not lazy.state["E.shifts"].any()
    np.testing.assert_allclose(sparse["E"], dense["E"], rtol=1e-12)
    np.testing.assert_allclose(lazy.state["E.v"], eager.state["E.v"], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    ("history", "dtype"), [(HISTORY, np.float64), (9, np.float64), (HISTORY, np.float32)]
)
def test_momentum_catch_ups_whose_step_does_not_come_leave_the_rule_exact(history, dtype):
    """`prepare` writes a batch's rows and leaves their velocities to the step, which uses them; a
    catch-up followed by another, by a checkpoint (state saved, a new optimiser goes on) or by the
    epoch-end flush instead of its step still gives the dense rule, as does a step after which the
    shifts fill (history 9). The rows read include some without a gradient (as `<unk>`). In float32 the
    decays below 1e-31 are zero, and the rules agree to float32's rounding."""
    rng = np.random.default_rng(7)
    start = rng.normal(size=(12, 3)).astype(dtype)
    sparse, dense = {"E": start.copy()}, {"E": start.copy()}
    lazy, eager = SGD(0.1, momentum=0.9), SGD(0.1, momentum=0.9)
    lazy.history = history
    tolerance = {"rtol": 1e-12, "atol": 1e-14} if dtype == np.float64 else {"rtol": 2e-5, "atol": 1e-6}
    for i, g in enumerate(sparse_steps(rng, steps=60)):
        g = SparseRows(g.rows, g.values.astype(dtype))
        read = np.union1d(g.rows, rng.choice(10, size=2))
        lazy.prepare(sparse, {"E": read})
        if i % 7 == 3:  # caught up twice before the step
            lazy.prepare(sparse, {"E": np.union1d(read, [9])})
        if i % 11 == 5:  # a checkpoint between the catch-up and the step
            state = {key: value.copy() for key, value in lazy.state_dict().items()}
            lazy = SGD(0.1, momentum=0.9)
            lazy.history = history
            lazy.load_state_dict(state)
        if i % 13 == 8:  # an epoch ends between them
            lazy.flush(sparse)
            eager.flush(dense)
        lazy.lr = eager.lr = 0.1 + 0.01 * (i % 5)
        lazy.step(sparse, {"E": g})
        eager.step(dense, {"E": g.to_dense(start.shape)})
        assert not lazy._ready  # the step took what the catch-up kept
        np.testing.assert_allclose(sparse["E"][g.rows], dense["E"][g.rows], **tolerance)
    lazy.flush(sparse)
    np.testing.assert_allclose(sparse["E"], dense["E"], **tolerance)
    np.testing.assert_allclose(lazy.state["E.v"], eager.state["E.v"], rtol=tolerance["rtol"], atol=1e-300)


def test_a_momentum_state_of_the_older_clock_is_refused():
    with pytest.raises(WindownerError, match="older windowner"):
        SGD(0.1, momentum=0.9).load_state_dict({"t": np.array(3), "E.clock": np.array([0.1, 0.5])})


def test_momentum_moves_untouched_rows_as_the_dense_rule_does():
    params = {"E": np.zeros((3, 1))}
    optimizer = SGD(1.0, momentum=0.5)
    optimizer.step(params, {"E": SparseRows(np.array([0]), np.array([[1.0]]))})  # v = 1, θ = −1
    for _ in range(3):
        optimizer.step(params, {"E": SparseRows(np.array([1]), np.array([[0.0]]))})  # row 0 untouched
    assert params["E"][0, 0] == -1.0  # not yet caught up ...
    optimizer.flush(params)
    assert params["E"][0, 0] == pytest.approx(-(1 + 0.5 + 0.25 + 0.125))  # ... then as the dense rule


def test_sparse_adam_is_adam_when_every_row_is_touched():
    rng = np.random.default_rng(3)
    start = rng.normal(size=(5, 2))
    lazy, eager = {"E": start.copy()}, {"E": start.copy()}
    a, b = SparseAdam(0.05), Adam(0.05)
    for _ in range(10):
        g = rng.normal(size=(5, 2))
        a.step(lazy, {"E": SparseRows(np.arange(5), g)})
        b.step(eager, {"E": g})
    np.testing.assert_allclose(lazy["E"], eager["E"], rtol=1e-12)


def test_sparse_adam_leaves_untouched_rows_and_their_moments_alone():
    rng = np.random.default_rng(4)
    start = rng.normal(size=(5, 2))
    params, optimizer = {"E": start.copy()}, SparseAdam(0.1)
    optimizer.step(params, {"E": SparseRows(np.array([0, 3]), rng.normal(size=(2, 2)))})
    m, moved = optimizer.state["E.M"].copy(), params["E"].copy()
    optimizer.step(params, {"E": SparseRows(np.array([1]), rng.normal(size=(1, 2)))})
    np.testing.assert_array_equal(params["E"][[0, 3]], moved[[0, 3]])  # the lazy rule: no momentum move
    np.testing.assert_array_equal(optimizer.state["E.M"][[0, 3]], m[[0, 3]])
    np.testing.assert_array_equal(params["E"][[2, 4]], start[[2, 4]])
    # a touched row takes Adam's step with the global t in the bias corrections
    g = np.array([[0.5, -0.5]])
    params, optimizer = {"E": np.zeros((2, 2))}, SparseAdam(0.1)
    optimizer.t = 4  # as if four steps had passed without this row
    optimizer.step(params, {"E": SparseRows(np.array([0]), g)})
    m_hat, v_hat = 0.1 * g / (1 - 0.9**5), 0.001 * g * g / (1 - 0.999**5)
    np.testing.assert_allclose(params["E"][0], (-0.1 * m_hat / (np.sqrt(v_hat) + 1e-8))[0])


def test_adam_densifies_a_sparse_gradient():
    rng = np.random.default_rng(5)
    start = rng.normal(size=(5, 2))
    sparse, dense = {"E": start.copy()}, {"E": start.copy()}
    a, b = Adam(lr=0.1), Adam(lr=0.1)
    for g in sparse_steps(rng, rows=5, dim=2, steps=3, touched=2):
        a.step(sparse, {"E": g})
        b.step(dense, {"E": g.to_dense(start.shape)})
    np.testing.assert_array_equal(sparse["E"], dense["E"])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS) + ["momentum"])
def test_state_round_trip_continues_exactly(name):
    """Stopping after some steps, saving the state and going on with a new optimiser gives the same
    numbers, bit for bit, as never stopping (what resuming a run relies on)."""
    rng = np.random.default_rng(6)
    start = {"E": rng.normal(size=(12, 3)), "W": rng.normal(size=(2, 3))}
    steps = [(g, rng.normal(size=(2, 3))) for g in sparse_steps(rng, steps=20)]
    whole, split = {k: v.copy() for k, v in start.items()}, {k: v.copy() for k, v in start.items()}
    one = build(name)
    for g, w in steps:
        one.step(whole, {"E": g, "W": w})
    first = build(name)
    for g, w in steps[:9]:
        first.step(split, {"E": g, "W": w})
    second = build(name)
    second.load_state_dict({k: v.copy() for k, v in first.state_dict().items()})
    for g, w in steps[9:]:
        second.step(split, {"E": g, "W": w})
    for key in start:
        np.testing.assert_array_equal(split[key], whole[key])


def test_make_optimizer():
    assert isinstance(make_optimizer("sgd", 0.1), SGD)
    assert make_optimizer("sgd", 0.1, momentum=0.9).momentum == 0.9
    assert isinstance(make_optimizer("adagrad", 0.1), Adagrad)
    assert isinstance(make_optimizer("rmsprop", 0.1), RMSprop)
    adam = make_optimizer("sparse_adam", 0.002)
    assert isinstance(adam, SparseAdam) and adam.lr == pytest.approx(0.002)


@pytest.mark.parametrize(("prepared", "word_dropout"), [(True, 0.0), (True, 0.3), (False, 0.0)])
def test_lazy_momentum_trains_as_the_dense_rule(prepared, word_dropout):
    """Training, where each gradient depends on the rows the batch reads: with the catch-up before the
    forward pass (`prepare`, as `train` calls it) the lazy rule gives the dense rule's weights; without
    it, a batch reads rows that lag behind their momentum, and the weights differ. With word dropout a
    batch also reads <unk> (row 0), which the catch-up must cover."""
    rng = np.random.default_rng(4)
    start, _ = random_problem(rng, batch=6, words=25, dim=4, shape=ModelConfig(word_dropout=word_dropout))
    batches = [
        Batch(rng.integers(1, 25, size=(6, 1, 5)), rng.integers(0, 5, size=6)) for _ in range(40)
    ]  # 24 words (row 0, <unk>, only where a word is dropped), 30 slots a batch: every row goes
    # untouched for stretches
    lazy, dense = copy.deepcopy(start), copy.deepcopy(start)
    lazy_rule, dense_rule = SGD(0.05, momentum=0.9), SGD(0.05, momentum=0.9)
    lazy_drops, dense_drops = (np.random.default_rng(5) if word_dropout else None for _ in range(2))
    for batch in batches:
        if prepared:  # as `train` steps
            train_step(lazy, lazy_rule, lazy.trainables(), batch, rng=lazy_drops)
        else:
            lazy_rule.step(lazy.trainables(), lazy.packed(lazy.loss_and_grads(batch, rng=lazy_drops)[1]))
        grads = dense.packed(dense.loss_and_grads(batch, rng=dense_drops)[1])
        grads["E"] = grads["E"].to_dense(dense.params["E"].shape)  # every row, every step
        dense_rule.step(dense.trainables(), grads)
    lazy_rule.flush(lazy.trainables())
    agree = all(np.allclose(lazy.params[n], dense.params[n], rtol=1e-10, atol=1e-12) for n in ("E", "W", "U"))
    assert agree == prepared
