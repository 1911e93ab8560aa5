"""Parameter averaging: the lazy average of a table equals the average of every row at every step."""

import numpy as np

from windowner.network.layers import SparseRows
from windowner.optim import SparseAdam
from windowner.optim.averaging import Average, swapped_in


def test_lazy_table_average_equals_the_dense_one():
    rng = np.random.default_rng(0)
    trainables = {"theta": rng.normal(size=7), "E": rng.normal(size=(10, 3))}
    average = Average(0.9, trainables)
    dense = {name: array.copy() for name, array in trainables.items()}
    optimizer = SparseAdam(0.05)
    for _ in range(30):
        rows = np.unique(rng.integers(0, 8, size=3))  # rows 8, 9 never touched
        grads = {"theta": rng.normal(size=7), "E": SparseRows(rows, rng.normal(size=(len(rows), 3)))}
        average.before_step(trainables, grads)
        optimizer.step(trainables, grads)
        average.after_step(trainables, grads)
        for name in dense:  # every entry, every step
            dense[name] = 0.9 * dense[name] + 0.1 * trainables[name]
    current = average.current(trainables)
    for name in dense:
        np.testing.assert_allclose(current[name], dense[name], rtol=1e-12)
    np.testing.assert_array_equal(current["E"][8:], trainables["E"][8:])
    assert not np.allclose(current["E"][:8], trainables["E"][:8])


def test_swapped_in_puts_the_values_back():
    trainables = {"theta": np.arange(3.0)}
    view = trainables["theta"][1:]  # a parameter that is a view of θ sees the swap
    with swapped_in(trainables, {"theta": np.full(3, 7.0)}):
        assert view.tolist() == [7.0, 7.0]
    assert trainables["theta"].tolist() == [0.0, 1.0, 2.0]
    with swapped_in(trainables, None):
        assert view.tolist() == [1.0, 2.0]


def test_state_round_trip():
    rng = np.random.default_rng(1)
    trainables = {"theta": rng.normal(size=4), "E": rng.normal(size=(5, 2))}
    one = Average(0.5, trainables)
    grads = {"theta": np.ones(4), "E": SparseRows(np.array([1, 3]), np.ones((2, 2)))}
    one.before_step(trainables, grads)
    one.after_step(trainables, grads)
    two = Average(0.5, trainables)
    two.load_state_dict(one.state_dict())
    for name in trainables:
        np.testing.assert_array_equal(two.current(trainables)[name], one.current(trainables)[name])
