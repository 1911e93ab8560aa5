"""From files to integer windows: tagged text (``conll``, ``spans``), raw text cut into tokens
(``text``, ``characters``), word vectors (``vectors/``), the vocabulary (``vocab``), the feature tables'
classes (``features``, ``gazetteer``), and the windows of every token (``windows``).

May import: :mod:`windowner.base`.
"""
