"""The gates of the window network, one file each, forward and backward side by side.

Every gate is a function ``forward(inputs, parameters) -> (output, backward)``; ``backward`` closes over
what the forward pass computed, takes the gradient of the loss with respect to the output (the upstream
gradient) and returns the gradients with respect to the inputs and parameters. Batches are rows: ``x``
of shape ``(B, D)`` holds ``B`` windows. The derivations are in ``docs/gradients.md``.
"""

from .activations import ACTIVATIONS, Activation
from .affine import affine
from .bag import bag
from .dropout import dropout
from .embedding import SparseRows, embedding

__all__ = ["ACTIVATIONS", "Activation", "SparseRows", "affine", "bag", "dropout", "embedding"]
