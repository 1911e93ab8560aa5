"""Experiments: a run per seed (:mod:`.seeds`); runs compared by the settings that differ
(:mod:`.compare`, with its statistics in :mod:`.significance` and its table in :mod:`.table`); searches
over config keys on Optuna (:mod:`.sweep`, with its file in :mod:`.sweep_file` and its study in
:mod:`.study`; an optional extra); and plots of a run, a group of runs or a sweep (:mod:`.plot`).

May import: every stage below it (base, data, network, optim, config, evaluation, tagging, training).
"""
