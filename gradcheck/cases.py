"""What one suite test checks (`Case`), and the xfails file that declares expected failures.

Each suite test is one `Case`: a check, a subject (a catalog op, an op family, a closed
form or behaviour name, or ``all`` for checks that cover the whole engine), a dtype
(``any`` for checks without one) and a device. Its id, ``check::subject::dtype::device``,
is what an xfails file lists. A line may use ``*`` wildcards in any part and carries its
reason after ``#``::

    conventions::std::float32::cpu    # pytorch/pytorch#87171: float32 std of equal values
    higher_order::cumprod::float16::* # double backward accumulates in float16
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ALL_DTYPES = ("float64", "float32", "float16", "bfloat16")
NO_DTYPE = "any"  # dtype of checks that take none (semantics)
WHOLE_ENGINE = "all"  # subject of checks that cover the whole engine (device parity)


@dataclass(frozen=True)
class Case:
    """One suite test: what it checks, on what, at which dtype and device."""

    check: str
    subject: str
    dtype: str
    device: str

    @property
    def id(self) -> str:
        """The xfail id: ``check::op-or-family::dtype::device``."""
        return f"{self.check}::{self.subject}::{self.dtype}::{self.device}"

    @property
    def param_id(self) -> str:
        """The pytest parameter id: the parts that vary within one test function."""
        parts = [self.check, self.subject, self.dtype]
        return "-".join(p for p in parts if p not in (NO_DTYPE, WHOLE_ENGINE))


class XfailsFileError(pytest.UsageError):
    """The xfails file cannot be read or has a malformed line (a one-line message)."""


XFAIL_PART = re.compile(r"[\w.+*?-]+(:\d+)?")  # "cuda:1" is one part; * and ? are wildcards


@dataclass(frozen=True)
class Xfail:
    """One line of an xfails file: an id pattern (``*`` wildcards per part) and its reason."""

    pattern: str
    reason: str
    line: int

    def matches(self, case_id: str) -> bool:
        parts = case_id.split("::")
        patterns = self.pattern.split("::")
        return len(parts) == len(patterns) and all(
            fnmatch.fnmatchcase(part, pattern)
            for part, pattern in zip(parts, patterns, strict=True)
        )


@dataclass(frozen=True)
class Xfails:
    """The declared expected failures of a run, in file order."""

    entries: tuple[Xfail, ...] = ()
    path: Path | None = None

    def match(self, case_id: str) -> Xfail | None:
        """The first entry matching `case_id`, None if none does."""
        return next((x for x in self.entries if x.matches(case_id)), None)

    def __len__(self) -> int:
        return len(self.entries)


def read_xfails(path: Path) -> Xfails:
    """The entries of an xfails file: one id pattern per line, ``# comment``,
    ``pattern  # reason``."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise XfailsFileError(
            f"gradcheck: cannot read xfails file {str(path)!r} ({error.strerror}); "
            "fix --gradcheck-xfails-file"
        ) from None
    entries = []
    for number, line in enumerate(lines, 1):
        pattern, _, reason = line.partition("#")
        pattern = pattern.strip()
        if not pattern:
            continue
        parts = pattern.split("::")
        if len(parts) != 4 or not all(XFAIL_PART.fullmatch(p) for p in parts):
            raise XfailsFileError(
                f"gradcheck: {path}:{number}: bad xfail id {pattern!r}; write "
                "check::op-or-family::dtype::device (* matches any part), "
                "e.g. vjp::cumprod::float16::cuda"
            )
        entries.append(Xfail(pattern, reason.strip() or "declared in the xfails file", number))
    return Xfails(tuple(entries), path)


def stale_xfails(
    unmatched: Iterable[Xfail],
    checks: Sequence[str],
    known: set[str],
    subjects: set[str] | None,
    dtypes: Sequence[str],
    device: str,
) -> list[Xfail]:
    """The unmatched entries that could have matched a test of this run. Entries for
    another device or dtype, or (when ops were chosen, `subjects` given) another op or
    family, are just not selected; a check or subject that matches no check or `known`
    subject at all is a typo, so it is always stale."""

    def some(pattern: str, names: Iterable[str]) -> bool:
        return any(fnmatch.fnmatchcase(n, pattern) for n in names)

    stale = []
    for entry in unmatched:
        check, subject, dtype, dev = entry.pattern.split("::")
        dtype_selected = some(dtype, dtypes) or not some(dtype, ALL_DTYPES)
        selected = (
            (subjects is None or some(subject, subjects))
            and dtype_selected
            and (fnmatch.fnmatchcase(device, dev) or check == "device_parity")
        )
        if not some(check, checks) or not some(subject, known) or selected:
            stale.append(entry)
    return stale
