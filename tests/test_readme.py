"""The README's Python example runs as written (with its run folder moved to a temporary place)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_python_api_example_runs(tmp_path, monkeypatch, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "runs/api-example" in code
    code = code.replace("runs/api-example", str(tmp_path / "api-example"))
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "(100, 270) (2, 100)" in printed
    assert (tmp_path / "api-example" / "model.npz").is_file()
