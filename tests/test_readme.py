"""The README's Python example runs as written (with its run folder moved to a temporary place)."""

import dataclasses
import re
import typing
from pathlib import Path

import yaml

import windowner.config as config_module

ROOT = Path(__file__).resolve().parent.parent


def _python_example(path, heading):
    text = (ROOT / path).read_text(encoding="utf-8")
    return re.search(r"```python\n(.*?)```", text.split(heading, 1)[1], re.S).group(1)


def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    code = _python_example("README.md", "## Python API")
    assert "runs/api-example" in code
    code = code.replace("runs/api-example", str(tmp_path / "api-example"))
    monkeypatch.chdir(ROOT)
    session = {}
    exec(compile(code, "README.md", "exec"), session)
    printed = capsys.readouterr().out
    assert "(100, 270) (9, 100)" in printed
    assert (tmp_path / "api-example" / "model.npz").is_file()
    # docs/code.md goes on from the README's example, in the same session
    exec(compile(_python_example("docs/code.md", "## The Python API"), "docs/code.md", "exec"), session)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[('") and len(lines) == 4  # the checks, then three losses
    assert all(float(line) > 0 for line in lines[1:])


def _schema_defaults(schema, prefix=""):
    """Every config key and its default, as the README's table writes them."""
    for field in dataclasses.fields(schema):
        kind = typing.get_type_hints(schema)[field.name]
        if dataclasses.is_dataclass(kind):
            yield from _schema_defaults(kind, f"{prefix}{field.name}.")
        elif field.default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            yield (
                f"{prefix}{field.name}",
                f"`{yaml.safe_dump(field.default_factory(), default_flow_style=True).strip()}`",
            )
        elif field.default is dataclasses.MISSING:
            yield f"{prefix}{field.name}", "required"
        elif field.default is None:
            yield f"{prefix}{field.name}", "none"
        else:
            yield f"{prefix}{field.name}", f"`{yaml.safe_dump(field.default).splitlines()[0]}`"


def test_the_configuration_table_lists_every_key_with_its_default():
    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    section = usage.split("## Configuration keys", 1)[1].split("\n## ", 1)[0]
    table = dict(re.findall(r"^\| `([\w.]+)` \| ([^|]+?) \|", section, re.M))
    assert table == dict(_schema_defaults(config_module.Config))


def test_raw_text_example_runs(tmp_path, monkeypatch, capsys):
    """docs/usage.md's raw-text example, as written, on a one-epoch run of the default config."""
    from click.testing import CliRunner

    from windowner.cli.main import main

    usage = (ROOT / "docs" / "usage.md").read_text(encoding="utf-8")
    section = usage.split("## Tagging raw text from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert 'load_run("runs/default")' in code
    run = tmp_path / "default"
    config = ROOT / "configs" / "default.yaml"
    args = ["train", "--config", str(config), "--output", str(run), "--set", "train.epochs=1", "--quiet"]
    assert CliRunner().invoke(main, args).exit_code == 0
    code = code.replace("runs/default", str(run))
    namespace: dict = {}
    exec(compile(code, "docs/usage.md", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    text, found = namespace["text"], namespace["tagger"].tag_text(namespace["text"])
    assert len(printed) == len(found) > 0
    for line, entity in zip(printed, found, strict=True):
        label, *words, start, end, score = line.split()
        assert (" ".join(words), label, int(start), int(end)) == entity[:4]
        assert text[int(start) : int(end)] == entity.text and 0.0 < float(score) <= 1.0
