"""Experiments: a run per seed (:mod:`.seeds`), runs compared by the settings that differ
(:mod:`.compare`), and searches over config keys on Optuna (:mod:`.sweep`, an optional extra)."""
