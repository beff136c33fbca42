"""The README's Python example runs as written and prints what the README says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_python_api_example_runs_and_prints_what_it_claims() -> None:
    pytest.importorskip("torch")
    (example,) = re.findall(r"```python\n(.*?)```", README, re.S)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example, "README.md", "exec"), {})
    claimed = re.search(r"print\(.*\)\s+# (.*)", example).group(1)
    assert printed.getvalue().strip() == claimed
