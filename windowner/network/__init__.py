"""The window network of the lecture: its gates, each a forward and a backward pass side by side
(``layers/``), their initialisation (``init``), the losses (``losses/``), the tags a task predicts
(``tasks``) and their decoding (``decoding``), the shape of a model (``shape``), the model that orders
the gates (``model``), the central-difference gradient check (``gradcheck``) and the probability of
every tag and entity (``confidence``).

May import: :mod:`windowner.base`, :mod:`windowner.data`.
"""
