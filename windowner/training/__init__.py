"""The training loop (``loop``: :func:`train`, :func:`resume`, one step) and what an epoch reports
(``epochs``), ``train --dry-run`` (``dry_run``), the corpus and the model a run starts from
(``corpus``), the run folder's bookkeeping while it trains (``folder``: what may be trained into,
checkpoints, resuming, what a stop leaves), a run with the document feature's stages (``documents``),
interrupts, the divergence check and progress.

May import: every stage below it (base, data, network, optim, config, evaluation, tagging).
"""
