"""The semantics oracle's view and in-place cases: each catches its planted bug
(tests/bug_zoo_semantics.py) naming the case and the symptom, torch passes every case (the
reference: tests/core/test_reference_oracles.py), and a case needing a method or op the
adapter lacks is skipped with the reason, never passed."""

from __future__ import annotations

import pytest

import reference_engine as E
from gradcheck.adapters import load_adapter
from gradcheck.errors import GradcheckFailure, Unsupported
from gradcheck.semantics import SEMANTICS_CASES, VIEW_METHODS, run_semantics
from tests import bug_zoo, bug_zoo_semantics
from tests.bug_zoo_semantics import SEMANTICS_BUGS, Planted, PlantedTensors

# The cases that call in-place or view methods (VIEW_METHODS).
VIEW_CASES = [
    "view_of_view_write", "setitem_write", "view_writes", "base_write_after_view",
    "saved_tensor_modified", "leaf_in_place",
]  # fmt: skip


@pytest.mark.parametrize("bug", sorted(SEMANTICS_BUGS))
def test_semantics_case_catches_its_planted_bug(bug: str) -> None:
    _, case, symptom = SEMANTICS_BUGS[bug]
    with pytest.raises(GradcheckFailure) as info:
        run_semantics(case, getattr(bug_zoo, bug))
    assert info.value.check == "semantics"
    assert info.value.summary.startswith(f"{case}: ")
    assert symptom in info.value.summary
    assert "\n" not in info.value.summary


@pytest.mark.parametrize("name", sorted(SEMANTICS_CASES))
def test_planting_alone_breaks_nothing(name: str) -> None:
    """The subclass that carries the bugs, without one, passes: the bug is what fails."""
    run_semantics(name, bug_zoo_semantics.planted_control)


@pytest.mark.parametrize("name", sorted(SEMANTICS_CASES))
def test_torch_passes_semantics(name: str) -> None:
    pytest.importorskip("torch")
    run_semantics(name, load_adapter("torch"))


class NoInPlace(Planted):
    """Tensors without the in-place and view methods (an engine with immutable tensors)."""

    __setitem__ = add_ = mul_ = copy_ = fill_ = zero_ = diagonal = None  # type: ignore


@pytest.mark.parametrize("name", VIEW_CASES)
def test_missing_method_is_unsupported_not_passed(name: str) -> None:
    with pytest.raises(Unsupported, match=rf"^{name}: the adapter's tensors have no \.\w+"):
        run_semantics(name, PlantedTensors("no_in_place", NoInPlace))


class OnlyViewMethods(Planted):
    """Tensors whose in-place methods are VIEW_METHODS only, with no other way to make a
    view: the view cases must not need more than the documented contract."""


OTHER_VIEWS = "view reshape transpose t permute narrow select unsqueeze squeeze expand T mT"
for _name in [m for m in dir(E.Tensor) if m.endswith("_") and not m.startswith("__")]:
    if _name not in VIEW_METHODS:
        setattr(OnlyViewMethods, _name, None)
for _name in OTHER_VIEWS.split():
    setattr(OnlyViewMethods, _name, None)


@pytest.mark.parametrize("name", VIEW_CASES)
def test_view_cases_need_only_the_documented_methods(name: str) -> None:
    assert OnlyViewMethods.sub_ is None and OnlyViewMethods.transpose is None
    run_semantics(name, PlantedTensors("only_view_methods", OnlyViewMethods))


def test_missing_op_is_unsupported_not_passed() -> None:
    adapter = PlantedTensors("no_sin", Planted)
    del adapter.ops["sin"]
    with pytest.raises(Unsupported, match="^saved_tensor_modified: the adapter has no op 'sin'"):
        run_semantics("saved_tensor_modified", adapter)
