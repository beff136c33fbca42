"""The layer family's planted bugs (tests/bug_zoo.py) are caught by a check run like the
suite's default profile (20 derandomized one-op graphs), under the right check name,
and the real ops pass the same search."""

from __future__ import annotations

import pytest

from gradcheck.adapters import load_adapter
from gradcheck.conventions import run_conventions
from gradcheck.errors import GradcheckFailure
from tests import bug_zoo
from tests.zoo_search import search

LAYER_BUGS = ["conv2d_weight_grad_ignores_dilation", "layer_norm_vjp_no_mean_term"]


@pytest.mark.parametrize("name", LAYER_BUGS)
@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
def test_layer_bug_is_caught(name: str, check: str) -> None:
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    assert bug.caught_by == "vjp"
    _, failures = search(check, getattr(bug_zoo, name), bug.op)
    assert failures, f"{check} missed {name} in 20 examples"
    assert failures[-1].check == check
    assert failures[-1].op is None or bug.op in failures[-1].op


@pytest.mark.parametrize("op", sorted({bug_zoo.BROKEN_PRIMITIVES[n].op for n in LAYER_BUGS}))
@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
def test_the_correct_op_passes_the_same_search(op: str, check: str) -> None:
    assert not search(check, load_adapter("reference"), op)[1]


def test_conventions_catch_max_pool_gradient_to_the_last_tie() -> None:
    run_conventions("max_pool2d", load_adapter("reference"))  # the real one passes
    with pytest.raises(GradcheckFailure) as info:
        run_conventions("max_pool2d", bug_zoo.max_pool_last_tie)
    assert info.value.check == "conventions" and "max_pool2d" in info.value.summary
