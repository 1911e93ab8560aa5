"""``windowner gradcheck``: analytic gradients against central differences, for a config or all of
the toolbox.
"""

from __future__ import annotations

import sys
import time

import click
import numpy as np

from ..base.errors import WindownerError
from ..config import load_config
from ..network.gradcheck import (
    TOLERANCE,
    Check,
    all_cases,
    case_problem,
    check_case,
    check_gradients,
    random_problem,
)
from ..training.corpus import examples as training_examples
from ..training.corpus import initialise
from .main import friendly, main

CONFIG_ENTRIES = 200  # gradcheck --config: entries of each parameter checked by default (seconds)


@main.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Check this run's model on its data."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key.")
@click.option(
    "--batch",
    default=8,
    show_default=True,
    type=click.IntRange(1),
    help="Windows in the batch (crf: whole sentences, until they hold this many).",
)
@click.option(
    "--max-entries",
    type=click.IntRange(0),
    help=f"Check at most this many entries of each parameter, drawn at random (0: every entry). Default:"
    f" every entry of the random problem; {CONFIG_ENTRIES} with --config (every entry of a real model"
    " takes minutes).",
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every activation x loss x {frozen, fine-tuned} x {l2 = 0, l2 > 0} on small random models.",
)
@friendly
def gradcheck(
    config_path: str | None, overrides: tuple[str, ...], batch: int, max_entries: int | None, every: bool
) -> None:
    """Compare every analytic gradient with central differences in float64.

    With --config, the model the config trains (same initialisation) on a batch of its training data
    (200 random entries of each parameter unless --max-entries says otherwise); without, the default
    model on a small random problem that needs no files; with --all, every combination of the toolbox on
    small random models. Each parameter's row is printed as soon as it is checked.
    """
    started = time.perf_counter()
    budget = CONFIG_ENTRIES if max_entries is None and config_path is not None else max_entries
    max_entries = budget or None  # 0: every entry
    if every:
        if config_path or overrides:
            raise WindownerError("--all checks random models: it takes no --config or --set")
        _check_all(max_entries)
        return
    rng = np.random.default_rng(0)
    seed = None
    if config_path is None and not overrides:
        model, examples = random_problem(rng, batch)
        l2 = l2_vectors = 1e-3
        click.echo(f"a random problem: {len(examples.labels)} windows, 40 words of dimension 8, l2 {l2}")
    else:
        if config_path is None:
            raise WindownerError("--set without --config: give the config the overrides apply to")
        config = load_config(config_path, overrides)
        tagger, corpus, _ = initialise(config)  # the model `train` would start from
        model = tagger.model
        keys = None
        if "document" in tagger.features:  # no first pass is trained here: any keys check the table
            classes = tagger.features["document"][1:]
            count = sum(len(s) for s in corpus.train)
            keys = [classes[i] for i in np.random.default_rng(1).integers(0, len(classes), size=count)]
            click.echo("the document feature's keys are drawn at random (gradcheck trains no first pass)")
        data = training_examples(tagger, corpus.train, config.data.train, keys)
        examples = next(model.loss.batches(data, batch, rng))
        l2 = config.train.l2 or 1e-3  # check the L2 terms even where the run does not use them
        l2_vectors = config.train.l2_vectors or 1e-3
        if config.model.dropout or config.model.input_dropout or config.model.word_dropout:
            seed = 0  # the same dropout masks at every evaluation
        count = 0 if examples.lengths is None else len(examples.lengths)
        sentences = f" ({count} sentence{'s' * (count > 1)})" if count else ""
        click.echo(
            f"{config_path}: {len(examples.labels)} training windows{sentences}, l2 {l2},"
            f" l2_vectors {l2_vectors}"
        )

    def show(check: Check) -> None:
        shape = "x".join(map(str, model.params[check.name].shape))
        verdict = "ok" if check.ok else "FAIL"
        error = check.max_relative_error
        skipped = f"  ({check.skipped} at a kink, left out)" if check.skipped else ""
        click.echo(f"{check.name:<10}{shape:>14}{check.entries:>10}{error:>20.2e}  {verdict}{skipped}")

    click.echo(f"{'parameter':<10}{'shape':>14}{'entries':>10}{'max relative error':>20}")
    checks = check_gradients(model, examples, l2, l2_vectors, True, max_entries, rng, seed=seed, report=show)
    failed = [check.name for check in checks if not check.ok]
    if failed:
        names = ", ".join(failed)
        click.echo(f"windowner: error: gradients of {names} exceed the tolerance {TOLERANCE:g}", err=True)
        sys.exit(1)
    entries = sum(check.entries for check in checks)
    sampled = f", {max_entries} a parameter at most" if max_entries is not None else ""
    click.echo(
        f"all gradients agree with central differences (tolerance {TOLERANCE:g};"
        f" entries below {checks[0].tiny:.1e} compared at that size, the smallest differences resolve):"
        f" {entries:,} entries{sampled} in {time.perf_counter() - started:.1f} s"
    )


def _check_all(max_entries: int | None) -> None:
    """``gradcheck --all``: a table of the largest relative error per case and parameter."""
    # a column for every parameter of some case, in the order of the forward pass
    orders = [case_problem(case)[0].parameter_names() for case in all_cases()]
    longest = max(orders, key=len)
    names = sorted({name for order in orders for name in order}, key=longest.index)
    widths = {name: max(9, len(name) + 1) for name in names}  # E_gazetteer is wider than a number
    click.echo(
        f"{'activation':<11}{'loss':<9}{'vectors':<11}{'l2':<6}" + "".join(f"{n:>{widths[n]}}" for n in names)
    )
    failed, skipped = [], 0
    for case in all_cases():
        checks = {check.name: check for check in check_case(case, max_entries)}
        skipped += sum(check.skipped for check in checks.values())
        cells = "".join(
            f"{checks[name].max_relative_error:>{widths[name]}.1e}"
            if name in checks
            else f"{'-':>{widths[name]}}"
            for name in names
        )
        vectors = "fine-tuned" if case.fine_tune else "frozen"
        bad = [name for name, check in checks.items() if not check.ok]
        click.echo(
            f"{case.activation:<11}{case.loss:<9}{vectors:<11}{case.l2:<6g}{cells}"
            + ("  FAIL" if bad else "")
        )
        failed += [f"{case.label}: {', '.join(bad)}" for _ in bad[:1]]
    if failed:
        click.echo(
            f"windowner: error: {len(failed)} cases exceed the tolerance {TOLERANCE:g}: {'; '.join(failed)}",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"all {len(list(all_cases()))} cases agree with central differences (tolerance {TOLERANCE:g});"
        f" {skipped} entries left out where a step crossed a kink"
    )
