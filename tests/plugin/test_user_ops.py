"""User ops in the suite: the pytest_gradcheck_ops hook, --gradcheck-ops, the header,
test ids, failures naming the op, and runs that forget the ops they registered."""

from __future__ import annotations

import pytest
from plugin_helpers import FAST, usage_error

torch = pytest.importorskip("torch")
import gradcheck.adapters.torch  # noqa: E402, F401 - imported once, outside inline runs
from gradcheck.checks import GRAPH_CHECKS  # noqa: E402
from gradcheck.ops import user_ops  # noqa: E402

OPS_ONLY = ["--pyargs", "gradcheck.suite.test_ops"]
TORCH = "--gradcheck-adapter=torch"

CONFTEST = """
import numpy as np
import torch

import gradcheck
from gradcheck.ops import Domain


def my_cube(x):
    return x * x * x


class WrongCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3.3 * x * x


def reference(x):
    return x**3


def pytest_gradcheck_ops(config):
    unit = dict(bounds=(-1.0, 1.0), domains=Domain(-1.0, 1.0), reference=reference)
    return [
        gradcheck.Op("my_cube", my_cube, **unit),
        gradcheck.Op("wrong_cube", WrongCube.apply, lacks=("jvp",), **unit),
    ]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    return pytester


def ids(result: pytest.RunResult) -> list[str]:
    return [line.split("::")[-1] for line in result.stdout.lines if "::test_" in line]


def test_hook_ops_join_the_run_and_the_header(project):
    result = project.runpytest(*OPS_ONLY, *FAST, TORCH, "--co", "-q", "--gradcheck-ops=my_cube")
    assert result.ret == 0, result.stdout.str()
    assert "test_op[vjp-my_cube-float64]" in ids(result)
    assert {i.split("-")[1] for i in ids(result)} == {"my_cube"}
    everything = project.runpytest(*OPS_ONLY, *FAST, TORCH, "--co")
    assert "(2 user ops)" in everything.stdout.str()
    assert "my_cube" not in user_ops()  # the run forgot what it registered


def test_a_correct_user_op_passes_alone_and_composed(project):
    args = [*FAST, TORCH, "--gradcheck-ops=my_cube", "--gradcheck-dtypes=float64"]
    result = project.runpytest("--pyargs", "gradcheck.suite.test_ops", *args)
    result.assert_outcomes(passed=len(GRAPH_CHECKS) - 1)  # a user op has no in-place form
    graphs = project.runpytest("--pyargs", "gradcheck.suite.test_graphs", *args, "-v")
    graphs.assert_outcomes(passed=len(GRAPH_CHECKS))  # its companions (mul, exp) have
    assert "test_graph[vjp-user-float64] PASSED" in graphs.stdout.str()
    assert "test_graph[inplace-user-float64] PASSED" in graphs.stdout.str()


def test_a_wrong_backward_fails_naming_the_op(project):
    result = project.runpytest(
        *OPS_ONLY, *FAST, TORCH, "--gradcheck-ops=wrong_cube", "--gradcheck-dtypes=float64", "-rs"
    )
    # adjoint: no jvp, declared; batched passes: the wrong backward is the same batched
    result.assert_outcomes(failed=2, passed=4, skipped=1)
    text = result.stdout.str()
    assert "[vjp] at op 'wrong_cube (node 0)'" in text
    assert "[finite_difference] at op 'wrong_cube (node 0)'" in text
    assert "user op 'wrong_cube' lacks 'jvp'" in text


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        ("return ['my_cube']", "pytest_gradcheck_ops returned 'my_cube'; return gradcheck.Op"),
        ("raise ValueError('no GPU')", "pytest_gradcheck_ops failed with ValueError: no GPU"),
        ("return [gradcheck.Op('exp', my_cube)]", "'exp' is a catalog op"),
        ("return [gradcheck.Op('a', my_cube), gradcheck.Op('a', reference)]",
         "user op 'a' is already registered for conftest:my_cube"),
    ],
)  # fmt: skip
def test_bad_hooks_are_one_line_usage_errors(pytester, hook, message):
    pytester.makeconftest(
        CONFTEST.replace(
            "def pytest_gradcheck_ops(config):\n",
            f"def pytest_gradcheck_ops(config):\n    {hook}\n",
        )
    )
    assert message in usage_error(pytester.runpytest(*OPS_ONLY, *FAST, TORCH, "--co"))
    assert "a" not in user_ops() and "my_cube" not in user_ops()


def test_unknown_user_op_names_get_did_you_mean(project):
    result = project.runpytest(*OPS_ONLY, *FAST, TORCH, "--co", "--gradcheck-ops=my_cub")
    assert "unknown op 'my_cub' (did you mean my_cube" in usage_error(result)
