"""The window classifier of the CS224N lecture "Backpropagation and computation graphs".

Notation (the lecture's, used for the parameter names throughout windowner):

* ``E`` (V, d): the word vectors, one row a word;
* ``W`` (H, K·d) and ``b`` (H,): the hidden layer, K = 2·window + 1 words a window;
* ``U`` (C, H) and ``c`` (C,): the output layer, C classes.

For a window of words w_1 … w_K::

    x = [E[w_1]; …; E[w_K]]        (K·d,)   embedding gate
    z = W x + b                     (H,)     affine gate
    h = f(z)                        (H,)     activation gate
    s = U h + c                     (C,)     affine gate
    J = CE(softmax(s), y) + (λ/2)(‖W‖² + ‖U‖²)

and the backward pass runs the same gates in reverse order (see :meth:`WindowModel.forward`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .layers import ACTIVATIONS, SparseRows, affine, embedding
from .losses import softmax_cross_entropy

PARAMETERS = ("E", "W", "b", "U", "c")
REGULARISED = ("W", "U")  # L2 applies to the weight matrices, not to biases or word vectors

Gradients = dict[str, "np.ndarray | SparseRows"]


@dataclass
class WindowModel:
    """The parameters and shape of a window classifier; the forward and backward passes.

    ``params`` maps the names in :data:`PARAMETERS` to arrays, all of one float dtype.
    """

    params: dict[str, np.ndarray]
    window: int
    activation: str = "tanh"
    _activation: Callable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._activation = ACTIVATIONS[self.activation]
        missing = [name for name in PARAMETERS if name not in self.params]
        if missing:
            raise ValueError(f"missing parameters: {', '.join(missing)}")

    @classmethod
    def initialise(
        cls,
        E: np.ndarray,
        window: int,
        hidden: int,
        classes: int,
        rng: np.random.Generator,
        activation: str = "tanh",
        dtype: type = np.float32,
    ) -> WindowModel:
        """A new model on word vectors ``E`` (copied): Xavier/Glorot-uniform W and U, zero b and c.

        Xavier: entries of a (fan_out, fan_in) matrix from U(−a, a), a = √(6 / (fan_in + fan_out)), so the
        variance of activations and of gradients is kept roughly constant from layer to layer.
        """
        inputs = (2 * window + 1) * E.shape[1]
        params = {
            "E": np.array(E, dtype=dtype),
            "W": xavier_uniform(hidden, inputs, rng).astype(dtype),
            "b": np.zeros(hidden, dtype=dtype),
            "U": xavier_uniform(classes, hidden, rng).astype(dtype),
            "c": np.zeros(classes, dtype=dtype),
        }
        return cls(params, window, activation)

    @property
    def dtype(self) -> np.dtype:
        return self.params["W"].dtype

    @property
    def classes(self) -> int:
        return self.params["U"].shape[0]

    def astype(self, dtype: type) -> WindowModel:
        """A copy with every parameter in ``dtype`` (gradient checks run in float64)."""
        params = {name: value.astype(dtype) for name, value in self.params.items()}
        return WindowModel(params, self.window, self.activation)

    def forward(self, windows: np.ndarray) -> tuple[np.ndarray, Callable[..., Gradients]]:
        """Scores of a batch of windows, int ``(B, K)`` -> ``(B, C)``, and the backward pass.

        ``backward(d_scores, fine_tune=True)`` takes ∂J/∂s ``(B, C)`` and returns the gradients that flow
        back from the scores: of W, b, U, c (dense) and, with ``fine_tune``, of E (:class:`SparseRows`:
        the touched rows only). The L2 term's λW and λU are added by :meth:`loss_and_grads`.
        """
        p = self.params
        x, embedding_backward = embedding(p["E"], windows)  # (B, K·d)
        z, hidden_backward = affine(x, p["W"], p["b"])  # (B, H)
        h, activation_backward = self._activation(z)  # (B, H)
        scores, output_backward = affine(h, p["U"], p["c"])  # (B, C)

        def backward(d_scores: np.ndarray, fine_tune: bool = True) -> Gradients:
            # batch rows: row i of δ₂U is Uᵀδ₂ for window i, and so on
            d_hidden, dU, dc = output_backward(d_scores)  # ∂J/∂H = δ₂ U, δ₂ = ∂J/∂S
            delta = activation_backward(d_hidden)  # δ₁ = ∂J/∂Z = ∂J/∂H ⊙ f'(Z)
            dx, dW, db = hidden_backward(delta, need_input=fine_tune)  # ∂J/∂X = δ₁ W
            grads: Gradients = {"W": dW, "b": db, "U": dU, "c": dc}
            if fine_tune:
                grads["E"] = embedding_backward(dx)
            return grads

        return scores, backward

    def loss(self, windows: np.ndarray, labels: np.ndarray, l2: float = 0.0) -> float:
        """The objective J on a batch, without gradients (what a gradient check perturbs)."""
        scores, _ = self.forward(windows)
        return softmax_cross_entropy(scores, labels)[0] + self._penalty(l2)

    def loss_and_grads(
        self, windows: np.ndarray, labels: np.ndarray, l2: float = 0.0, fine_tune: bool = True
    ) -> tuple[float, Gradients]:
        """The objective J on a batch and its gradient with respect to every trained parameter.

        J is the mean softmax cross-entropy plus (l2/2)(‖W‖² + ‖U‖²). With ``fine_tune=False`` no gradient
        is computed for E (and ∂J/∂x is skipped altogether).
        """
        scores, backward = self.forward(windows)
        loss, d_scores = softmax_cross_entropy(scores, labels)
        grads = backward(d_scores, fine_tune)
        if l2:
            for name in REGULARISED:
                grads[name] = grads[name] + l2 * self.params[name]  # ∂/∂W (l2/2)‖W‖² = l2·W
        return loss + self._penalty(l2), grads

    def _penalty(self, l2: float) -> float:
        """(l2/2)(‖W‖² + ‖U‖²)."""
        if not l2:
            return 0.0
        return 0.5 * l2 * sum(float(np.sum(self.params[name] ** 2)) for name in REGULARISED)

    def scores(self, windows: np.ndarray, batch_size: int = 4096) -> np.ndarray:
        """Scores of many windows, computed a batch at a time; ``(N, K) -> (N, C)``."""
        out = np.empty((len(windows), self.classes), dtype=self.dtype)
        for start in range(0, len(windows), batch_size):
            out[start : start + batch_size] = self.forward(windows[start : start + batch_size])[0]
        return out

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """The most probable class of each window, int ``(N,)``."""
        return self.scores(windows).argmax(axis=1)


def xavier_uniform(fan_out: int, fan_in: int, rng: np.random.Generator) -> np.ndarray:
    """A ``(fan_out, fan_in)`` matrix from U(−a, a), a = √(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=(fan_out, fan_in))
