"""A trained tagger and its run folder: the files of a run (``run_files``) and the tagger they load
(``tagger``), the scores of its predictions (``report``), the folder's lock, mark and crash-proof swap
(``folders``), checkpoints (``checkpoint``), tagging text and its output formats (``predict``, ``html``),
several runs as one (``ensemble``) and a run that carries its vectors (``package``).

May import: :mod:`windowner.base`, :mod:`windowner.data`, :mod:`windowner.network`,
:mod:`windowner.optim`, :mod:`windowner.config`, :mod:`windowner.evaluation`.
"""
