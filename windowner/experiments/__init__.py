"""Experiments: a run per seed (:mod:`.seeds`), runs compared by the settings that differ
(:mod:`.compare`), searches over config keys on Optuna (:mod:`.sweep`, its file
:mod:`.sweep_file` and its study :mod:`.study`; an optional extra), and plots
of a run, a group of runs or a sweep (:mod:`.plot`).

May import: every stage below it (base, data, network, optim, config, evaluation, tagging, training).
"""
