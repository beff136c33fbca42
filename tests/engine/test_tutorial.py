"""The seed tutorial runs unchanged on reference_engine and on torch, with the same output."""

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

import reference_engine

TUTORIAL = Path(reference_engine.__file__).with_name("tutorial.py").read_text()
ENGINE_IMPORT = "import reference_engine as torch\n"


def run_tutorial(source: str) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(source, "tutorial.py", "exec"), {})
    return stdout.getvalue()


def test_tutorial_starts_with_the_only_line_that_differs_from_the_notebook():
    assert TUTORIAL.startswith(ENGINE_IMPORT)
    later_lines = TUTORIAL.splitlines()[1:]
    assert not any(line.startswith(("import", "from")) for line in later_lines)


def test_tutorial_gradients_match_on_reference_engine():
    output = run_tutorial(TUTORIAL)
    assert output.count("Gradients match!") == 2
    assert output.splitlines()[:2] == [
        "tensor([5.], requires_grad=True)",
        "tensor([125.], grad_fn=<PowBackward0>)",
    ]


def test_tutorial_prints_the_same_with_torch():
    pytest.importorskip("torch")
    torch_source = "import torch\n" + TUTORIAL[len(ENGINE_IMPORT) :]
    torch_output = run_tutorial(torch_source)
    assert torch_output.count("Gradients match!") == 2
    assert run_tutorial(TUTORIAL) == torch_output


def test_python_dash_m_runs_the_tutorial():
    result = subprocess.run(
        [sys.executable, "-m", "reference_engine"], capture_output=True, text=True, check=True
    )
    assert result.stdout.count("Gradients match!") == 2
