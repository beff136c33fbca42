"""The hypothesis profiles of gradcheck (gradcheck-dev, -ci, -thorough, -smoke), each
check's share of a profile's examples, and the settings the suite's tests run under: the
active run's profile, for the suite's tests only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest
    from hypothesis import settings

    from gradcheck.config import RunConfig

PROFILES: dict[str, dict[str, Any]] = {
    "gradcheck-dev": {"max_examples": 20},
    "gradcheck-ci": {"max_examples": 50, "derandomize": True, "database": None},
    "gradcheck-thorough": {"max_examples": 1000},
    # Seconds, not minutes: is the adapter wired up at all?
    "gradcheck-smoke": {"max_examples": 3, "derandomize": True, "database": None},
}

# Checks whose examples cost several times a `vjp` example run a fraction of the profile's
# examples: 1/N. batched calls the graph once per batch entry and again vectorized; a
# batching rule is wrong for (nearly) every input or for none, so a quarter of the
# examples finds what all of them would. The suite runs them in test functions of their
# own (test_op_batched, test_graph_batched): hypothesis settings are per function.
EXAMPLE_SHARE = {"batched": 4}


def register_profiles() -> None:
    """Register the gradcheck-* hypothesis profiles (deadline off in all)."""
    from hypothesis import HealthCheck, settings

    for name, values in PROFILES.items():
        settings.register_profile(
            name,
            deadline=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            **values,
        )


def default_profile() -> str:
    return "gradcheck-ci" if os.environ.get("CI") else "gradcheck-dev"


def example_cap(cap: int | None, explicit_profile: str | None) -> int | None:
    """An adapter's `max_examples` where it lowers the default profile's count; an
    explicit --hypothesis-profile is never capped."""
    if explicit_profile or cap is None:
        return None
    return cap if cap < PROFILES[default_profile()]["max_examples"] else None


def check_examples(max_examples: int, check: str) -> int:
    """How many of a test's `max_examples` `check` runs (EXAMPLE_SHARE); at least one."""
    return max(1, max_examples // EXAMPLE_SHARE.get(check, 1))


def examples_of_shares(checks: Iterable[str]) -> str:
    """For the active run's header: what `checks` (of EXAMPLE_SHARE) run, e.g. "batched:
    12 examples per test", as their suite settings say; "" for none."""
    shares = [f"{check}: {suite_settings(check).max_examples}" for check in checks]
    return ", ".join(shares) + " examples per test" if shares else ""


def load_default_profile(config: pytest.Config) -> str | None:
    """For a project's own tests (this repository's conftest): load gradcheck-ci (CI set)
    or gradcheck-dev unless --hypothesis-profile was given; returns the previous one."""
    from hypothesis import settings

    register_profiles()
    previous = settings.get_current_profile_name()
    if not config.getoption("hypothesis_profile", None):
        settings.load_profile(default_profile())
    return previous


suite_runs: list[RunConfig] = []  # the active run, read when suite modules import


def suite_profile() -> str:
    """The profile the suite's tests run under: the active run's (an explicit
    --hypothesis-profile, else gradcheck-ci when CI is set, else gradcheck-dev). Only the
    suite's tests get it: a run's other tests keep hypothesis' own choice."""
    return suite_runs[-1].profile if suite_runs else default_profile()


def suite_settings(check: str | None = None) -> settings:
    """The hypothesis settings of the suite's tests: the suite profile (for `check`, its
    EXAMPLE_SHARE of the examples), with the database of --gradcheck-example-db when given.
    A database given explicitly wins even over a profile without one (gradcheck-ci):
    replaying stored failures first is its point."""
    from hypothesis import settings

    profile = settings.get_profile(suite_profile())
    run = suite_runs[-1] if suite_runs else None
    if run is not None and run.max_examples is not None:
        profile = settings(profile, max_examples=run.max_examples)
    if check in EXAMPLE_SHARE:
        profile = settings(profile, max_examples=check_examples(profile.max_examples, check))
    if run is None or run.example_db is None:
        return settings(profile)
    # `database` is passed alone: derandomize=True comes from the parent, which hypothesis
    # accepts (it rejects only both given in one call).
    return settings(profile, database=run.database)


@contextlib.contextmanager
def without_local_constants() -> Iterator[None]:
    """Hypothesis draws about 1 value in 20 from the literals of every local (not
    installed) module imported so far, so a derandomized test's examples would depend on
    which modules its process happened to import: test order, pytest-xdist's share-out.
    Inside this block that pool is empty: the same examples in every process. A no-op on
    a hypothesis without it (the pool is internal: hypothesis 6.1xx's providers module)."""
    try:
        from hypothesis.internal.conjecture import providers

        original, cache = providers._get_local_constants, providers.CONSTANTS_CACHE.cache
        empty = providers.Constants()
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    cache.clear()  # it holds the pool's values per kind of draw
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.clear()
