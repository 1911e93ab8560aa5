"""A YAML config file read as a mapping, with errors that name the file and the line: bad YAML, a byte
YAML does not allow, a key given twice in one mapping (where YAML would keep the last silently)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import WindownerError, quote
from .files import text_file


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The mapping a YAML config file holds; errors name the file (and the line of bad YAML or a bad byte)."""
    with text_file(path, "a YAML config file") as file:
        text = file.read()
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # an empty file is an empty mapping
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (a control character)
        line = text.count("\n", 0, err.position) + 1
        raise WindownerError(f"{path}:{line}: not valid YAML (character #x{err.character:04x})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise WindownerError(
            f"{path}{where}: not valid YAML ({getattr(err, 'problem', None) or 'syntax'})"
        ) from None
    except RecursionError:
        raise WindownerError(f"{path}: not valid YAML (nested too deeply)") from None
    except _DuplicateKey as err:
        lines = (
            f"lines {err.first} and {err.second}" if err.first != err.second else f"both on line {err.first}"
        )
        raise WindownerError(
            f"{path}:{err.second}: config key {quote(err.key)} is given twice ({lines}): keep one"
        ) from None
    if not isinstance(raw, dict):
        raise WindownerError(f"{path}: a config file must be a mapping of sections (data:, vectors:, ...)")
    return raw


class _DuplicateKey(Exception):
    """A key given twice in one mapping of a YAML file: its dotted path and both lines (1-based)."""

    def __init__(self, key: str, first: int, second: int) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader (the Python one: the C loader crashed the process on a deeply nested file)
    that refuses a key given twice in a mapping, at any depth, where YAML keeps the last value silently.

    The check walks the composed nodes before they are constructed, so it knows each key's dotted path.
    Keys merged in with ``<<: *anchor`` are not duplicates: the mapping's own keys override them.
    """

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_unique_keys(self, node)
        return self.construct_document(node)


def _check_unique_keys(loader: yaml.SafeLoader, root: yaml.Node) -> None:
    """Raise :class:`_DuplicateKey` for the first key given twice in a mapping under ``root``."""
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    seen_nodes: set[int] = set()  # an alias refers to a node again (or to itself): walk each once
    while stack:
        node, prefix = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{prefix}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    stack.append((value_node, prefix))
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # an unhashable key: the constructor reports it
                key = loader.construct_object(key_node)
                line = key_node.start_mark.line + 1
                name = f"{prefix}.{key}" if prefix else str(key)
                try:
                    if key in lines:
                        raise _DuplicateKey(name, lines[key], line)
                    lines[key] = line
                except TypeError:  # a key that cannot be hashed: the constructor reports it
                    continue
                stack.append((value_node, name))
