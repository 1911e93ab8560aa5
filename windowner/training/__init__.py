"""The training loop (``loop``: :func:`train`, :func:`resume`, one step), the corpus and the model a
run starts from (``corpus``), the run folder's bookkeeping while it trains (``folder``: what may be
trained into, checkpoints, resuming, what a stop leaves), interrupts, the divergence check and progress.

May import: every stage below it (base, data, network, optim, config, evaluation, tagging).
"""
