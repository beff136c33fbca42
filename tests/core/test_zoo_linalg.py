"""The linear-algebra bugs of the zoo (tests/bug_zoo.py) are caught by the check that names
them in a search like the suite's default profile (20 derandomized one-op graphs), and the
correct ops pass the same search."""

from __future__ import annotations

import pytest

from gradcheck.adapters import load_adapter
from tests import bug_zoo
from tests.zoo_search import search

BUGS = [
    "inv_vjp_no_transpose",
    "det_vjp_no_cofactor_transpose",
    "eigh_vjp_wrong_eigenvector",
    "eigh_vjp_detached_eigenvectors",
    "svd_vjp_square_only",
]
# A wrong first derivative is also caught without the reference, by central differences.
CAUGHT_BY = {name: bug_zoo.BROKEN_PRIMITIVES[name].caught_by for name in BUGS}
FIRST_ORDER = [name for name, check in CAUGHT_BY.items() if check == "vjp"]
CASES = [*CAUGHT_BY.items(), *((name, "finite_difference") for name in FIRST_ORDER)]


@pytest.mark.parametrize(("name", "check"), CASES)
def test_planted_linalg_bug_is_caught(name: str, check: str) -> None:
    bug = bug_zoo.BROKEN_PRIMITIVES[name]
    _, found = search(check, getattr(bug_zoo, name), bug.op)
    assert found, f"{check} missed {name} in 20 examples"
    assert all(failure.check == check for failure in found)
    assert found[-1].op is None or bug.op in found[-1].op  # the nearest op, when named


@pytest.mark.parametrize(("name", "check"), CASES)
def test_the_correct_op_passes_the_same_search(name: str, check: str) -> None:
    assert not search(check, load_adapter("reference"), bug_zoo.BROKEN_PRIMITIVES[name].op)[1]
