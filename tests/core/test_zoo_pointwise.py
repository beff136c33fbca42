"""The bug zoo of the activations, point-wise ops and losses (tests/bug_zoo.py): each
planted backward bug is caught by a search like the suite's default profile (20
derandomized one-op graphs: test_op's), under the right check name, and the correct op
passes the same search.

One bug is wrong only for x > 2 (silu_vjp_tail_branch): one-op graphs reach it because
most of them draw their leaves in the tails (spec.TAIL_REACHES), and deeper graphs reach
it through exp, square, add...
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.conventions import run_conventions
from gradcheck.errors import GradcheckFailure
from gradcheck.graph import Graph, Node
from tests import bug_zoo
from tests.zoo_search import search

# (bug, the check that must name it, a check that needs no reference)
BUGS = {
    "silu_vjp_missing_term": ("vjp", "finite_difference"),
    "atan2_vjp_swapped": ("vjp", "finite_difference"),
    "addcdiv_vjp_divisor_without_value": ("vjp", "finite_difference"),
    # the mean over ignored targets: random draws reach it about once in 20 examples, the
    # op's sample (an ignored target, reduction="mean") in every run
    "nll_loss_vjp_mean_counts_ignored": ("conventions",),
}


@pytest.mark.parametrize("name", sorted(BUGS))
def test_the_default_profile_catches_the_planted_bug(name):
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    adapter = getattr(bug_zoo, name)
    for check in BUGS[name]:
        if check == "conventions":
            with pytest.raises(GradcheckFailure) as info:
                run_conventions(bug.op, adapter)
            assert info.value.check == check
            continue
        _, failures = search(check, adapter, bug.op)
        assert failures, f"{check} missed {name}"
        assert failures[-1].check == check
        assert failures[-1].op is None or bug.op in failures[-1].op


@pytest.mark.parametrize("name", sorted(BUGS))
def test_the_correct_op_passes_the_same_search(name):
    op = bug_zoo.BROKEN_PRIMITIVES[name].op
    for adapter_name, check in (("reference", "finite_difference"), ("torch", "vjp")):
        conclusive, failures = search(check, load_adapter(adapter_name), op)
        assert not failures, failures[-1].summary
        assert conclusive >= 10


def test_a_backward_that_forgets_label_smoothing_is_caught():
    adapter = bug_zoo.forgets_label_smoothing
    assert bug_zoo.BROKEN_ADAPTERS["forgets_label_smoothing"] == (adapter, "vjp")
    for check in ("vjp", "finite_difference"):
        _, failures = search(check, adapter, "cross_entropy")
        assert failures and failures[-1].check == check


def test_one_op_graphs_catch_a_bug_only_in_the_tails():
    _, failures = search("vjp", bug_zoo.silu_vjp_tail_branch, "silu")
    assert failures


@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
def test_graphs_that_reach_the_tails_catch_it(check):
    """Once silu's input exceeds 2 (here silu(exp(x)), x in [-2, 2] as leaves are) the
    oracles see the bug. Graphs of the whole unary family reach it too, but rarely: silu is
    one of its ~35 ops and its input exceeds 2 in ~0.5% of them (measured: 5 of 1000
    derandomized graphs), so the CI profile's 50 examples usually miss it."""
    x = np.linspace(-2.0, 2.0, 6).reshape(2, 3)
    graph = Graph([x], [Node("exp", [0]), Node("silu", [1])], [2], [np.ones((2, 3))],
                  [np.full((2, 3), 0.5)])  # fmt: skip
    with pytest.raises(GradcheckFailure) as info:
        run_check(check, graph, bug_zoo.silu_vjp_tail_branch)
    assert info.value.check == check
    run_check(check, graph, load_adapter("torch"))  # the correct silu passes
