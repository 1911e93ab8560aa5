"""windowner: window-based named-entity classifiers with hand-derived gradients.

The Python API (the command line is a thin layer over it)::

    import windowner
    tagger = windowner.load_run("runs/default")            # a trained run folder
    tagger.predict([["Paris", "is", "in", "France", "."]])  # IOB2 tags, one list per sentence
    tagger.tag_text("Paris is in France.")                   # entities: text, label, start, end, score
    seeds = windowner.load_runs(["runs/s0", "runs/s1"])     # several runs tag as one (the same predict)
    windows = tagger.windows([["Paris", "is", "nice"]])     # int rows of E, (3, 1, 2·window + 1)
    batch = windowner.Batch(windows, labels)
    loss, grads = tagger.model.loss_and_grads(batch)        # grads["E"]: SparseRows(rows, values)

See README.md and docs/code.md for the whole API.
"""

from .base.errors import WindownerError
from .config import Config, load_config
from .data.conll import Sentence, read_conll
from .data.spans import read_data, read_spans
from .data.vectors import read_vectors
from .data.vocab import Vocabulary
from .data.windows import make_windows, sentence_windows
from .network.gradcheck import check_gradients
from .network.layers import SparseRows
from .network.losses import Batch
from .network.model import WindowModel
from .optim import make_optimizer
from .tagging.ensemble import Ensemble, load_runs
from .tagging.tagger import Entity, Tagger, load_run
from .training.corpus import load_corpus
from .training.loop import resume, train, train_step

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "Config",
    "Ensemble",
    "Entity",
    "Sentence",
    "SparseRows",
    "Tagger",
    "Vocabulary",
    "WindowModel",
    "WindownerError",
    "check_gradients",
    "load_config",
    "load_corpus",
    "load_run",
    "load_runs",
    "make_optimizer",
    "make_windows",
    "read_conll",
    "read_data",
    "read_spans",
    "read_vectors",
    "resume",
    "sentence_windows",
    "train",
    "train_step",
]
