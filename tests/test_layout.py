"""The package's layout: its folders follow the data, and imports only run down the stages.

The stages, from the bottom: ``base`` → ``data`` → ``network`` → ``optim`` → ``config`` → ``evaluation``
→ ``tagging`` → ``training`` → ``experiments`` → ``cli``. A module may import its own stage's modules and
those of the stages below it, never one above (a lazy import inside a function counts too); the package's
``__init__`` (the public API) may import any. Nor may two modules import each other, directly or round a
loop, at module level.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "windowner"
STAGES = (
    "base",
    "data",
    "network",
    "optim",
    "config",
    "evaluation",
    "tagging",
    "training",
    "experiments",
    "cli",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int | None:
    """The stage of a module of windowner (None: the package's own ``__init__``)."""
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 1 else None


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The windowner modules (or packages) that ``path`` imports, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            if base == "windowner" or base.startswith("windowner."):
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    where = ROOT / sub.replace(".", "/")
                    is_module = where.is_dir() or where.with_suffix(".py").is_file()
                    found.add(sub if is_module else base)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("windowner")}
    return found - {"windowner"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_stage():
    for path in modules():
        name = module_name(path)
        if name != "windowner":
            assert name.split(".")[1] in STAGES, f"{name}: not in a stage of {STAGES}"
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == ["__init__.py", "config.py"]


def test_imports_run_only_down_the_stages():
    for path in modules():
        name = module_name(path)
        if stage(name) is None:
            continue  # the public API
        for imported in imports(path):
            assert stage(imported) <= stage(name), f"{name} imports {imported}, a later stage"


def test_no_module_imports_itself_round_a_loop():
    graph = {module_name(path): imports(path, top_level_only=True) for path in modules()}
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in graph.get(name, ()):
            if target == name or target not in graph:
                continue
            assert state.get(target) != 1, f"an import loop: {' -> '.join([*path, target])}"
            if target not in state:
                walk(target, [*path, target])
        state[name] = 2

    for name in graph:
        if name not in state:
            walk(name, [name])


def test_every_subpackage_says_what_it_holds_and_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "May import" in doc, init
