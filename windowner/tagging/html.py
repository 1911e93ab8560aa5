"""``predict --output-format html``: a self-contained page (inline styles, no script, nothing loaded)
that marks each entity by its type's colour, with its score when it has one.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from html import escape

# html: displaCy's colours for the usual types (CoNLL, OntoNotes), then a palette for the others
TYPE_COLOURS = {
    **dict.fromkeys(("LOC", "LOCATION"), "#ff9561"),
    "GPE": "#feca74",
    **dict.fromkeys(("PER", "PERSON"), "#aa9cfc"),
    **dict.fromkeys(("ORG", "ORGANIZATION", "ORGANISATION"), "#7aecec"),
    "MISC": "#f0d0ff",
}


PALETTE = ("#bfeeb7", "#ffeb80", "#c887fb", "#9cc9cc", "#ff8197", "#bfe1d9", "#e4e7d2", "#feca74", "#7aecec")


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; color: #1f2328; background: #fff;
  counter-reset: record; }
header { border-bottom: 1px solid #d8dee4; margin-bottom: 1.5rem; padding-bottom: .75rem; }
h1 { font-size: 1.25rem; font-weight: 600; margin: 0 0 .25rem; overflow-wrap: anywhere; }
.about { color: #59636e; font-size: .85rem; margin: 0 0 .75rem; overflow-wrap: anywhere; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem; margin: 0; padding: 0; list-style: none; }
.legend li { font-size: .75rem; font-weight: 700; letter-spacing: .03em; padding: .2rem .55rem;
  border-radius: .3rem; color: #1f2328; }
.record { position: relative; margin: 0 0 .9rem; padding-left: 3rem; line-height: 2.3;
  white-space: pre-wrap; overflow-wrap: anywhere; counter-increment: record; }
.record::before { content: counter(record); position: absolute; left: 0; width: 2.2rem; text-align: right;
  color: #8c959f; font-size: .75rem; line-height: 3.07; font-variant-numeric: tabular-nums; }
.record.empty { margin: 0; line-height: 0; }
.record.empty::before { content: none; }
mark { color: inherit; padding: .2em .35em; margin: 0 .1em; border-radius: .35em; line-height: 1;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
mark .type { font-size: .62em; font-weight: 700; letter-spacing: .03em; margin-left: .45em;
  vertical-align: middle; }
mark .score { font-size: .62em; font-variant-numeric: tabular-nums; margin-left: .3em; opacity: .7;
  vertical-align: middle; }
footer { color: #59636e; font-size: .8rem; border-top: 1px solid #d8dee4; margin-top: 2rem;
  padding-top: .75rem; }
"""


_POLICY = "default-src 'none'; style-src 'unsafe-inline'"  # the page may load nothing, run nothing


def type_colour(kind: str) -> str:
    """The background of an entity type: :data:`TYPE_COLOURS`, else a :data:`PALETTE` colour by the
    name's CRC-32 (the same type always gets the same colour, on every page)."""
    return TYPE_COLOURS.get(kind.upper()) or PALETTE[zlib.crc32(kind.encode("utf-8")) % len(PALETTE)]


def html_start(title: str, types: Sequence[str], about: str = "") -> str:
    """The page up to its first record: the title, a line ``about`` the tagging, a legend of ``types``."""
    legend = "".join(f'<li style="background: {type_colour(kind)}">{escape(kind)}</li>' for kind in types)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header>\n<h1>{escape(title)}</h1>\n"
        + (f'<p class="about">{escape(about)}</p>\n' if about else "")
        + f'<ul class="legend" aria-label="entity types">{legend}</ul>\n</header>\n<main>\n'
    )


def html_end(records: int, tokens: int) -> str:
    """The end of the page: how much was tagged."""
    return (
        f"</main>\n<footer>{records:,} record{'s' * (records != 1)}, {tokens:,} token{'s' * (tokens != 1)};"
        " tagged by windowner</footer>\n</body>\n</html>\n"
    )


def html_record(text: str, found: Sequence[dict]) -> str:
    """A record as a paragraph: ``text`` (escaped) with each entity of ``found`` (dicts of
    :func:`entities`, in order, not overlapping) marked, its type and, if it has one, its ``score``."""
    if not text.strip():
        return '<p class="record empty"></p>\n'
    parts, done = ['<p class="record">'], 0
    for entity in found:
        start, end, kind = entity["start_char"], entity["end_char"], escape(str(entity["type"]))
        score = entity.get("score")
        label = f'<span class="type">{kind}</span>'
        title = kind
        if score is not None:
            label += f'<span class="score">{float(score):.2f}</span>'
            title += f", score {float(score):.3f}"
        parts.append(escape(text[done:start]))
        parts.append(
            f'<mark class="entity" data-type="{kind}" title="{title}"'
            f' style="background: {type_colour(str(entity["type"]))}">{escape(text[start:end])}{label}</mark>'
        )
        done = end
    parts.append(escape(text[done:]) + "</p>\n")
    return "".join(parts)
