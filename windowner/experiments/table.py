"""The table of :func:`windowner.experiments.compare.compare` as text, Markdown, CSV or JSON, with the
paired comparison's lines under it."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from typing import Any

from .compare import Comparison


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)) or value is None:
        return json.dumps(value)
    return str(value)


def _cell(name: str, stats: dict[str, float] | None) -> str:
    """``mean (min–max)``: scores with 2 decimals, the best epoch with 1, the time in whole seconds."""
    if stats is None:
        return "-"
    digits = 0 if name == "time (s)" else 1 if name == "best epoch" else 2
    mean = f"{stats['mean']:.{digits}f}"
    if stats["n"] == 1 or stats["min"] == stats["max"]:
        return mean
    return f"{mean} ({stats['min']:.{digits}f}–{stats['max']:.{digits}f})"


def rows(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """The table as a header and rows of text cells."""
    settings = comparison.keys or ["settings"]
    header = [*settings, "n", *comparison.metrics]
    body = []
    for group, summary in zip(comparison.groups, comparison.summaries, strict=True):
        cells = [_value(group.settings[key]) for key in comparison.keys] or ["(all the same)"]
        cells.append(str(len(group.runs)))
        cells += [_cell(name, summary.get(name)) for name in comparison.metrics]
        body.append(cells)
    return header, body


def paired_lines(comparison: Comparison) -> list[str]:
    """Sentences of the paired comparison: the difference of the second group from the first."""
    both = comparison.paired
    if both is None:
        return []
    label = [", ".join(f"{k}={_value(v)}" for k, v in g.settings.items()) for g in comparison.groups[:2]]
    lines = [
        f"paired over seeds {', '.join(map(str, both['seeds']))} (n={both['n']}): [{label[1]}] minus"
        f" [{label[0]}], mean difference [95% confidence interval], {both['test']} p-value:"
    ]
    for name, s in _paired_scores(comparison):
        lines.append(f"  {name}: {s['mean']:+.2f} [{s['low']:+.2f}, {s['high']:+.2f}]  p-value {_p(s['p'])}")
    return lines


def _paired_scores(comparison: Comparison) -> list[tuple[str, dict[str, Any]]]:
    """The paired difference of each shown score that has one, in the table's order."""
    scores = comparison.paired["scores"] if comparison.paired else {}
    return [(name, scores[name]) for name in comparison.metrics if name in scores]


def _p(p: float | None) -> str:
    if p is None:
        return "- (the same difference for every seed)"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def paired_markdown(comparison: Comparison) -> list[str]:
    """The paired comparison as a Markdown table (after a blank line), or nothing."""
    lines = paired_lines(comparison)
    both = comparison.paired
    if both is None:
        return []
    table = ["", lines[0], "", "| score | mean difference | 95% CI | p-value |", "|---|---:|---:|---:|"]
    for name, s in _paired_scores(comparison):
        table.append(f"| {name} | {s['mean']:+.2f} | {s['low']:+.2f} to {s['high']:+.2f} | {_p(s['p'])} |")
    return table


def render(
    comparison: Comparison, form: str, table: Callable[[Sequence[str], Sequence[Sequence[str]]], str]
) -> str:
    """The comparison as ``text`` (``table`` aligns it), ``markdown``, ``csv`` or ``json``."""
    header, body = rows(comparison)
    if form == "json":
        return json.dumps(as_json(comparison), indent=2)
    if form == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["group", *comparison.keys, "n", "metric", "mean", "std", "min", "max"])
        for number, (group, summary) in enumerate(zip(comparison.groups, comparison.summaries, strict=True)):
            settings = [_value(group.settings[key]) for key in comparison.keys]
            for name in comparison.metrics:
                if name in summary:
                    s = summary[name]
                    writer.writerow(
                        [number + 1, *settings, s["n"], name, s["mean"], s["std"], s["min"], s["max"]]
                    )
        return out.getvalue().rstrip("\n")
    source = f"scores on {comparison.data}" if comparison.data else f"{comparison.split} scores"
    scores = f"{source}: F1 in %, mean (min–max) over the runs of each group"
    if form == "markdown":
        left = len(comparison.keys) or 1  # the settings are text, the rest numbers
        align = ["---"] * left + ["---:"] * (len(header) - left)
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
        return "\n".join([*lines, "", scores, *paired_markdown(comparison)])
    return "\n".join([table(header, body), "", scores, *paired_lines(comparison)])


def as_json(comparison: Comparison) -> dict[str, Any]:
    groups = []
    for group, summary in zip(comparison.groups, comparison.summaries, strict=True):
        groups.append(
            {
                "settings": group.settings,
                "n": len(group.runs),
                "runs": [str(run.folder) for run in group.runs],
                "seeds": [run.seed for run in group.runs],
                "scores": {name: summary[name] for name in comparison.metrics if name in summary},
            }
        )
    return {
        "split": comparison.split,
        "data": comparison.data,
        "settings": comparison.keys,
        "groups": groups,
        "paired": comparison.paired,
    }
