"""What a check can conclude besides passing, and safe calls into adapter code."""

from __future__ import annotations

import contextlib
import faulthandler
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class GradcheckFailure(AssertionError):
    """An adapter disagrees with the truth. The message names the check, the op nearest
    the disagreement and the worst element; `repro` is a standalone script."""

    def __init__(
        self,
        check: str,
        message: str,
        *,
        op: str | None = None,
        repro: str | None = None,
        hung: bool = False,
    ) -> None:
        self.check, self.op, self.repro, self.summary = check, op, repro, message
        self.hung = hung  # a call ran out of time: nothing may call the engine again
        where = f" at op {op!r}" if op else ""
        text = f"[{check}]{where} {message}"
        if repro:
            text += "\n\n--- repro script ---\n" + repro
        super().__init__(text)


class Inconclusive(Exception):
    """This example proves nothing (a kink crossed, a noisy estimate): count it, pass it."""


class GradcheckInconclusive(Inconclusive):
    """`check_function` could not decide `check` (a nondeterministic fn, a difference
    estimate too noisy to resolve the gradient): `reason` says why. Raised unless
    `allow_inconclusive=True`, so that a test never passes having checked nothing."""

    def __init__(self, check: str, reason: str) -> None:
        self.check, self.reason = check, reason
        super().__init__(f"[{check}] inconclusive: {reason}")


class Unsupported(Exception):
    """The adapter lacks an op, dtype, device or capability the check needs: skip, report."""


class Timeout(BaseException):
    """An example ran past its time limit. A BaseException, like KeyboardInterrupt, so
    that adapter code catching Exception cannot swallow it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"{seconds:g} s")
        self.seconds = seconds


class Hung(BaseException):
    """An example hung: the test stops at once with `failure` (hypothesis stops on a
    BaseException instead of re-running the engine to shrink the example, one timeout
    per try)."""

    def __init__(self, failure: GradcheckFailure) -> None:
        super().__init__(failure.summary)
        self.failure = failure


def _usable(seconds: float) -> bool:
    main = threading.current_thread() is threading.main_thread()
    return seconds > 0 and hasattr(signal, "setitimer") and main


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise `Timeout` in this thread if the block runs longer than `seconds` (0: never).
    A SIGALRM timer interrupts Python code and sleeps (see `last_resort` for C code)."""
    if not _usable(seconds):
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise Timeout(seconds)

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def last_resort(seconds: float) -> Iterator[None]:
    """A hang inside C code never returns to Python for SIGALRM to stop it: after
    `seconds`, faulthandler dumps every thread's stack and exits the process, so that a
    hang never blocks a run forever. Armed once per test: arming costs a thread."""
    try:  # the process's own stderr: pytest replaces sys.stderr with a capture
        armed = _usable(seconds) and sys.__stderr__ is not None
        if armed:
            faulthandler.dump_traceback_later(seconds, exit=True, file=sys.__stderr__)
    except (OSError, ValueError):  # no file descriptor to write to: no last resort
        armed = False
    try:
        yield
    finally:
        if armed:
            faulthandler.cancel_dump_traceback_later()


def call_adapter(check: str, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call adapter code; anything it raises becomes a classified failure of `check`."""
    try:
        return fn(*args, **kwargs)
    except (GradcheckFailure, Inconclusive, Unsupported):
        raise
    except Timeout as timeout:
        raise GradcheckFailure(
            check,
            f"the adapter's {what} did not return within {timeout} (does it hang? "
            "--gradcheck-timeout sets the limit)",
            hung=True,
        ) from None
    except Exception as error:  # the adapter is under test: any exception is its failure
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise GradcheckFailure(
            check, f"the adapter raised {type(error).__name__} in {what}: {message}"
        ) from error


def to_host(check: str, adapter: Any, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A float64 numpy copy of an adapter tensor, checked to exist and to have `shape`."""
    if value is None:
        raise GradcheckFailure(check, f"the adapter returned None for {what}")
    array = np.asarray(call_adapter(check, f"to_numpy({what})", adapter.to_numpy, value))
    if array.shape != tuple(shape):
        raise GradcheckFailure(check, f"{what} has shape {array.shape}, expected {tuple(shape)}")
    return array.astype(np.float64)
