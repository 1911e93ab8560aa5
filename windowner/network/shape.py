"""The shape of a window network (``model:`` in a config): window, hidden size, activation, dropout,
decoding and the dimension of each feature table. :class:`~windowner.network.model.WindowModel` is
built from it; :mod:`windowner.config` reads it from a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..base.schema import option
from ..data.features import FEATURES
from .decoding import DECODERS
from .init import INITIALISERS
from .layers import ACTIVATIONS


@dataclass
class FeaturesConfig:
    case: int = option(0, minimum=0)  # dimension of the casing embedding (0: off); see features.py
    suffix: int = option(0, minimum=0)  # the last three characters
    prefix: int = option(0, minimum=0)  # the first three characters
    shape: int = option(0, minimum=0)  # the word shape (Paris: Xxx)
    headline: int = option(0, minimum=0)  # whether the sentence is all caps
    chars: int = option(0, minimum=0)  # the mean of the character 3- and 4-grams
    gazetteer: int = option(0, minimum=0)  # in, at the start of, or outside a match of model.gazetteers
    document: int = option(0, minimum=0)  # a first pass's type of the word elsewhere in its document

    def active(self) -> tuple[str, ...]:
        """The names of the features that are on (dimension > 0)."""
        return tuple(name for name in FEATURES if getattr(self, name))


@dataclass
class ModelConfig:
    # The maxima stop a typo (hidden: 1000000000) before it asks for terabytes: they are far beyond any
    # use of a window classifier (the lecture's H is about 100; a 50-word window spans most sentences).
    window: int = option(2, minimum=0, maximum=50)  # words on each side of the centre word
    hidden: int = option(100, minimum=1, maximum=100_000)  # size of the hidden layer h
    activation: str = option("tanh", choices=tuple(ACTIVATIONS))  # the nonlinearity f in h = f(Wx + b)
    slope: float = option(0.01, minimum=0.0)  # leaky_relu: the slope for z < 0
    init: str = option("xavier_uniform", choices=tuple(INITIALISERS))  # how W and U start
    init_range: float = option(0.1, above=0.0)  # init uniform: entries from U(-r, r); 0: all alike
    output_bias: str = option("zero", choices=("zero", "prior"))  # c starts at 0 or at log class priors
    dropout: float = option(0.0, minimum=0.0, maximum=0.95)  # drop rate on h while training
    input_dropout: float = option(0.0, minimum=0.0, maximum=0.95)  # drop rate on x while training
    word_dropout: float = option(0.0, minimum=0.0, maximum=0.95)  # a window word reads <unk>, training
    decode: str = option("argmax", choices=DECODERS)  # argmax per token, or viterbi over valid IOB2 paths
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    # lists of names {LABEL: text file, one entry a line} that model.features.gazetteer matches; a run
    # folder keeps a copy of each (its config.yaml: gazetteers/LABEL.txt, relative to the folder)
    gazetteers: dict[str, str] = field(default_factory=dict, metadata={"path": True})
