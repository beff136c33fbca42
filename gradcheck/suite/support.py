"""What every suite test shares: the run's configuration, how a check's outcome becomes a
test's, and what a test records about its examples.

A check returns (pass) or raises `GradcheckFailure` (fail: formatted, its repro written),
`Inconclusive` (the example proves nothing: counted, and a test whose examples all proved
nothing fails) or `Unsupported` (skip with its reason, shown as a skip in the matrix).
Each example runs under the run's time limit: a hang fails, naming the call that hung.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, currently_in_test_context, event

from gradcheck.cases import Case
from gradcheck.checks import CHECKS, GRAPH_CHECKS
from gradcheck.config import RunConfig, get_run
from gradcheck.errors import (
    GradcheckFailure,
    Hung,
    Inconclusive,
    Timeout,
    Unsupported,
    deadline,
)
from gradcheck.graph import Graph
from gradcheck.inplace import eligible, form_on, has_in_place_form
from gradcheck.ops.registry import has_op, limitation
from gradcheck.profiles import (
    EXAMPLE_SHARE,
    suite_settings,  # noqa: F401 (the suite's tests import it here)
)


def suite_run(metafunc: pytest.Metafunc) -> RunConfig:
    return get_run(metafunc.config)


def graph_cases(
    run: RunConfig,
    subjects: Sequence[str],
    ops_of: Callable[[str], Sequence[str]] = lambda op: [op],
) -> list[Case]:
    """(check, subject, dtype) for the graph oracles. Central differences always run in
    float64, so finite_difference gets one case per subject, not one per dtype; `inplace`
    gets cases only for subjects (`ops_of(subject)`: its ops) with an op that has an
    in-place form."""
    cases = []
    for subject in subjects:
        for check in GRAPH_CHECKS:
            if check == "inplace" and not any(map(has_in_place_form, ops_of(subject))):
                continue
            dtypes = ("float64",) if check == "finite_difference" else run.dtypes
            cases += [Case(check, subject, dtype, run.device) for dtype in dtypes]
    return cases


def own_cases(metafunc: pytest.Metafunc, cases: Sequence[Case]) -> list[Case]:
    """The cases of this test function: `test_<kind>_<check>` takes those of a check with
    its own example budget (profiles.EXAMPLE_SHARE), `test_<kind>` all the others."""
    own = next((c for c in EXAMPLE_SHARE if metafunc.definition.name.endswith(f"_{c}")), None)
    if own is not None:
        return [case for case in cases if case.check == own]
    return [case for case in cases if case.check not in EXAMPLE_SHARE]


def assume_applies(case: Case, graph: Graph, adapter: Any, ops: Sequence[str]) -> None:
    """Draw again (hypothesis' `assume`) a graph the `inplace` check cannot run in place
    (no node whose in-place form the adapter has, or each broadcasts its first input),
    unless the adapter runs none of `ops` in place: then the check says so (a skip)."""
    if case.check == "inplace" and any(form_on(op, adapter) for op in ops):
        assume(bool(eligible(graph, adapter)))


def parametrize(metafunc: pytest.Metafunc, cases: Sequence[Case], ids: Callable) -> None:
    """Parametrize `gradcheck_case`; the plugin finds the Case there (xfails, matrix)."""
    metafunc.parametrize("gradcheck_case", list(cases), ids=[ids(case) for case in cases])


@dataclass
class Tally:
    """What one test's examples showed, attached to its report (see results.Results)."""

    examples: int = 0
    inconclusive: int = 0
    reasons: Counter = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @property
    def proved_nothing(self) -> bool:
        return self.examples > 0 and self.inconclusive == self.examples

    def as_property(self, case: Case) -> dict[str, Any]:
        """Plain data only: pytest-xdist sends it from its workers."""
        return {
            "check": case.check,
            "subject": case.subject,
            "dtype": case.dtype,
            "device": case.device,
            "examples": self.examples,
            "inconclusive": self.inconclusive,
            "reasons": dict(self.reasons),
            "failures": self.failures,
            "proved_nothing": self.proved_nothing,
        }


_tallies: list[Tally] = []  # the running test's, innermost last


@contextlib.contextmanager
def tallying(tally: Tally) -> Iterator[Tally]:
    _tallies.append(tally)
    try:
        yield tally
    finally:
        _tallies.pop()


def run_case(run: RunConfig, case: Case, check: Callable[[], None]) -> None:
    """Run one example of `case`'s check under the time limit, and count it."""
    tally = _tallies[-1] if _tallies else Tally()
    tally.examples += 1
    try:
        with deadline(run.timeout):
            check()
    except Inconclusive as reason:
        why = str(reason).split(":")[0][:60]
        tally.inconclusive += 1
        tally.reasons[why] += 1
        if currently_in_test_context():
            event("inconclusive", why)
    except Unsupported as reason:
        tally.examples -= 1
        pytest.skip(str(reason))
    except GradcheckFailure as failure:
        if failure.hung:
            raise Hung(failure) from None
        raise
    except Timeout as timeout:  # ran out of time outside any adapter call
        message = f"the example did not finish within {timeout} (--gradcheck-timeout)"
        raise Hung(GradcheckFailure(case.check, message, hung=True)) from None


def usable_ops(run: RunConfig, ops: Sequence[str], case: Case) -> list[str]:
    """The ops random graphs for `case` may use: those the adapter has, less those it
    declares lack the capability the check tests at that dtype (`limitation`); skip,
    with the reasons, when none is left."""
    adapter, needs = run.adapter, CHECKS[case.check].needs
    require_ops(run, ops)
    usable, reasons = [], []
    for op in ops:
        reason = limitation(adapter, op, "forward", case.dtype)
        reason = reason or (limitation(adapter, op, needs, case.dtype) if needs else None)
        if has_op(adapter, op) and reason is None:
            usable.append(op)
        elif reason is not None:
            reasons.append(reason)
    if not usable:
        pytest.skip("; ".join(dict.fromkeys(reasons)))
    return usable


def require_ops(run: RunConfig, ops: Sequence[str]) -> None:
    """Skip (reported, never silently passed) when the adapter lacks every one of `ops`."""
    adapter = run.adapter
    if not any(has_op(adapter, op) for op in ops):
        pytest.skip(f"adapter {adapter.name!r} lacks {', '.join(ops)}")


def flatten(error: BaseException) -> list[BaseException]:
    """The leaf exceptions of an exception group (hypothesis reports distinct bugs so),
    a hang's failure for a hang."""
    if isinstance(error, Hung):
        return [error.failure]
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


def failure_record(case: Case, error: BaseException, repro: Path | None) -> dict[str, Any]:
    """What triage groups a failure by: its check, the op nearest it, its summary."""
    if isinstance(error, GradcheckFailure):
        check, op, summary = error.check, error.op, error.summary
    else:
        check, op, summary = case.check, None, f"{type(error).__name__}: {error}"
    return {"check": check, "op": op, "summary": summary, "repro": repro and str(repro)}


def write_repros(directory: Path | None, case: Case, errors: list[BaseException]) -> list:
    """One repro script per failure: DIR/<case id>.py, then <case id>-2.py, ...; None
    for a failure without a script (or when no directory was asked for)."""
    paths: list[Path | None] = []
    stem = re.sub(r"[^\w.-]+", "_", case.id.replace("::", "__"))
    for error in errors:
        script = getattr(error, "repro", None)
        if directory is None or not script:
            paths.append(None)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        suffix = f"-{sum(p is not None for p in paths) + 1}" if any(paths) else ""
        path = directory / f"{stem}{suffix}.py"
        path.write_text(script, encoding="utf-8")
        paths.append(path)
    return paths
