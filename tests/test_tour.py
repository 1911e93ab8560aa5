"""docs/tour.md names files, functions and sections of docs/gradients.md: each must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOUR = (ROOT / "docs" / "tour.md").read_text(encoding="utf-8")


def defined(path: Path) -> set[str]:
    """The top-level functions and classes of a file, and ``Class.method`` for their methods."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names |= {f"{node.name}.{f.name}" for f in node.body if isinstance(f, ast.FunctionDef)}
    return names


def test_every_file_and_function_the_tour_names_exists():
    references = re.findall(r"`((?:windowner|benchmarks)/[\w/]+\.py): ([\w., ]+)`", TOUR)
    assert len(references) >= 25
    for path, names in references:
        assert (ROOT / path).is_file(), path
        missing = {name.strip() for name in names.split(",")} - defined(ROOT / path)
        assert not missing, (path, missing)


def test_every_folder_the_tour_names_exists():
    folders = re.findall(r"`(windowner/\w+)`", TOUR)
    assert len(folders) >= 9
    for folder in folders:
        assert (ROOT / folder).is_dir() or (ROOT / f"{folder}.py").is_file(), folder


def test_every_section_of_gradients_md_the_tour_names_exists():
    gradients = (ROOT / "docs" / "gradients.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", gradients, re.M)
    sections = set(re.findall(r"§(\d+(?:\.\d+)?)", TOUR))
    assert len(sections) >= 10
    assert sections <= set(headings), sections - set(headings)
