"""The bug zoo of the indexing, scatter and layout ops (tests/bug_zoo.py): each planted
backward bug is caught by the checks the suite runs, in a search like its default
profile (20 derandomized examples of one-op graphs), under the right check name; the
correct op passes the same search."""

from __future__ import annotations

import pytest

from gradcheck.adapters import load_adapter
from tests import bug_zoo
from tests.zoo_search import search

BUGS = [
    "scatter_add_vjp_wrong_dim",
    "index_put_vjp_last_write_wins",
    "roll_vjp_same_direction",
    "index_add_vjp_no_alpha",
]


@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
@pytest.mark.parametrize("name", BUGS)
def test_planted_backward_bug_is_caught(name: str, check: str) -> None:
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    assert bug.caught_by == "vjp"
    _, failures = search(check, getattr(bug_zoo, name), bug.op)
    assert failures, f"{check} missed {name} in the default search"
    assert failures[-1].check == check
    assert failures[-1].op is None or bug.op in failures[-1].op


@pytest.mark.parametrize("check", ["vjp", "finite_difference"])
@pytest.mark.parametrize("op", sorted({bug_zoo.BROKEN_PRIMITIVES[n].op for n in BUGS}))
def test_the_correct_op_passes_the_same_search(op: str, check: str) -> None:
    assert not search(check, load_adapter("reference"), op)[1]
