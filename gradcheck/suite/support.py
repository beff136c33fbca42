"""What every suite test shares: the run's state, and how a check's outcome becomes a test's.

A check returns (pass) or raises `GradcheckFailure` (fail: the plugin formats it and
writes the repro), `Inconclusive` (the example proves nothing: counted, passed) or
`Unsupported` (skip with its reason, recorded as a skip in the matrix).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import currently_in_test_context, event

from gradcheck.checks import GRAPH_CHECKS
from gradcheck.config import State, get_state
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported
from gradcheck.report import Case


def suite_state(metafunc: pytest.Metafunc) -> State:
    return get_state(metafunc.config)


def graph_cases(state: State, subjects: Sequence[str]) -> list[Case]:
    """(check, subject, dtype) for the graph oracles. Central differences always run in
    float64 (DESIGN), so finite_difference gets one case per subject, not one per dtype."""
    cases = []
    for subject in subjects:
        for check in GRAPH_CHECKS:
            dtypes = ("float64",) if check == "finite_difference" else state.dtypes
            cases += [Case(check, subject, dtype, state.device) for dtype in dtypes]
    return cases


def parametrize(metafunc: pytest.Metafunc, cases: Sequence[Case], ids: Callable) -> None:
    """Parametrize `gradcheck_case`; the plugin finds the Case there (xfails, matrix)."""
    metafunc.parametrize("gradcheck_case", list(cases), ids=[ids(case) for case in cases])


def run_case(state: State, case: Case, check: Callable[[], None]) -> None:
    try:
        check()
    except Inconclusive as reason:
        state.inconclusive[case.id] = state.inconclusive.get(case.id, 0) + 1
        if currently_in_test_context():
            event("inconclusive", str(reason).split(":")[0][:60])
    except Unsupported as reason:
        pytest.skip(str(reason))


def require_ops(state: State, ops: Sequence[str]) -> None:
    """Skip (reported, never silently passed) when the adapter lacks every one of `ops`."""
    adapter = state.adapter
    if not any(op in adapter.ops for op in ops):
        pytest.skip(f"adapter {adapter.name!r} lacks {', '.join(ops)}")


def flatten(error: BaseException) -> list[BaseException]:
    """The leaf exceptions of an exception group (hypothesis reports distinct bugs so)."""
    inner = getattr(error, "exceptions", None)
    if isinstance(inner, (list, tuple)):
        return [leaf for e in inner for leaf in flatten(e)]
    return [error]


def describe(error: BaseException) -> str:
    """A check failure's own text; for anything else its type, message and origin."""
    if isinstance(error, GradcheckFailure):
        text = str(error)
    else:  # not classified by a check: name the exception and the line that raised it
        text = f"{type(error).__name__}: {error}".strip()
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is not None:
            code = tb.tb_frame.f_code
            text += f"\n(raised in {code.co_name} at {code.co_filename}:{tb.tb_lineno})"
    return "\n".join([text, *getattr(error, "__notes__", [])])  # hypothesis' example


def write_repro(directory: Path | None, case: Case, errors: list[BaseException]) -> Path | None:
    """Write the failures' repro scripts to DIR/<case id>.py; None if none or no DIR."""
    scripts = [e.repro for e in errors if getattr(e, "repro", None)]
    if directory is None or not scripts:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (re.sub(r"[^\w.-]+", "_", case.id.replace("::", "__")) + ".py")
    path.write_text("\n\n".join(scripts), encoding="utf-8")
    return path
