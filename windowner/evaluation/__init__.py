"""Scores of predicted tags against gold ones: entities by the CoNLL rule, tokens, seen and unseen
words (``metrics``).

May import: nothing of windowner.
"""
