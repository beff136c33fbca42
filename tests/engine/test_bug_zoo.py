"""The engine's own property tests catch every broken primitive of the bug zoo that a
self-consistency property can see (the rest are caught by the oracles: tests/core).
The same properties pass on the real engine: test_op_properties.py."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from gradcheck.errors import GradcheckFailure
from tests.bug_zoo import BROKEN_PRIMITIVES, planted
from tests.engine.properties import op_property

# The property that must catch each bug: a wrong first derivative (or a forward value
# its VJP does not match) shows in finite differences, a wrong JVP in the adjoint test,
# a VJP built from detached values in second-order differences.
CAUGHT_BY = {
    "tanh_vjp_one_minus_y": "finite_difference",
    "mul_vjp_no_unbroadcast": "finite_difference",
    "matmul_vjp_no_transpose": "finite_difference",
    "sum_vjp_wrong_axis": "finite_difference",
    "index_vjp_overwrites": "finite_difference",
    "pow_scalar_vjp_off_by_one": "finite_difference",
    "cumsum_vjp_not_reversed": "finite_difference",
    "sigmoid_forward_negated": "finite_difference",
    "scatter_add_vjp_wrong_dim": "finite_difference",
    "index_put_vjp_last_write_wins": "finite_difference",
    "roll_vjp_same_direction": "finite_difference",
    "index_add_vjp_no_alpha": "finite_difference",
    "sin_jvp_wrong_sign": "adjoint",
    "tanh_vjp_detached": "higher_order",
    "prod_vjp_detached": "higher_order",
    "silu_vjp_missing_term": "finite_difference",
    "atan2_vjp_swapped": "finite_difference",
    "nll_loss_vjp_mean_counts_ignored": "finite_difference",
    # silu_vjp_tail_branch is wrong only for x > 2, beyond one-op graphs' leaves [-2, 2]
    "conv2d_weight_grad_ignores_dilation": "finite_difference",
    "layer_norm_vjp_no_mean_term": "finite_difference",
}
SEARCH = settings(
    max_examples=300, derandomize=True, database=None, deadline=None,
    suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
)  # fmt: skip


@pytest.mark.parametrize("name", sorted(CAUGHT_BY))
def test_property_tests_catch_broken_primitive(name: str) -> None:
    bug = BROKEN_PRIMITIVES[name]
    prop = SEARCH(op_property(bug.op, CAUGHT_BY[name]))
    with planted(bug), pytest.raises(GradcheckFailure) as info:
        prop()
    assert info.value.check == CAUGHT_BY[name]
