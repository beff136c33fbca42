"""--gradcheck-example-db: the suite's tests save failing examples in the database it
names (a directory or redis), a later run replays them first, and bad values are
one-line usage errors."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from plugin_helpers import FAST, usage_error

from gradcheck.profiles import register_profiles

# One cheap test: vjp of exp in float64. zoo:raising breaks exp, so it fails every example.
EXP_VJP = ["--pyargs", "gradcheck.suite.test_ops", "--gradcheck-ops=exp",
           "--gradcheck-dtypes=float64", "-k", "vjp", "-p", "no:randomly",
           "-p", "no:cacheprovider"]  # fmt: skip
BROKEN = "--gradcheck-adapter=zoo:raising"

# Like gradcheck-ci, these have no database of their own and are derandomized: the one
# given on the command line must be used anyway. "replay" runs only the stored examples,
# so a failure under it can only come from the database.
COMMON = {"max_examples": 2, "deadline": None, "derandomize": True, "database": None}
settings.register_profile("example-db-save", phases=[Phase.reuse, Phase.generate], **COMMON)
settings.register_profile("example-db-replay", phases=[Phase.reuse], **COMMON)
SAVE, REPLAY = "--hypothesis-profile=example-db-save", "--hypothesis-profile=example-db-replay"


def fresh_gradcheck_profiles(loaded: str) -> None:
    """Register the gradcheck-* profiles on hypothesis' defaults, then load `loaded`."""
    settings.load_profile("default")
    register_profiles()
    settings.load_profile(loaded)


@pytest.fixture(autouse=True)
def clean_hypothesis_profiles():
    # An inline run leaves its --hypothesis-profile loaded in this process, and the
    # gradcheck-* profiles that a run registers inherit what is loaded: after a reuse-only
    # run they would have nothing to run. Start and leave each test with clean ones.
    previous = settings.get_current_profile_name()
    fresh_gradcheck_profiles(previous)
    yield
    fresh_gradcheck_profiles(previous)


def entries(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()]


def header(result: pytest.RunResult) -> str:
    return "\n".join(line for line in result.stdout.lines if line.startswith("gradcheck:"))


def test_a_directory_database_stores_the_failing_examples(zoo):
    db = zoo.path / "shared" / "db"
    result = zoo.runpytest(*EXP_VJP, SAVE, BROKEN, "--gradcheck-example-db=shared/db")
    result.assert_outcomes(failed=1)
    assert f"example database {db}" in header(result)
    assert entries(db), "no example saved"


def test_a_passing_run_uses_the_directory_and_names_it_in_the_header(zoo):
    # The brief's cheap run: it passes, so hypothesis stores nothing, but the run uses the
    # directory (created at start) and says so.
    result = zoo.runpytest(*EXP_VJP, "--gradcheck-adapter=reference", "--gradcheck-example-db=db")
    result.assert_outcomes(passed=1)
    assert (zoo.path / "db").is_dir()
    assert f"example database {zoo.path / 'db'}" in header(result)


def test_a_second_run_replays_the_first_runs_failure(zoo):
    zoo.runpytest(*EXP_VJP, SAVE, BROKEN, "--gradcheck-example-db=db").assert_outcomes(failed=1)
    # The reuse phase only: the adapter's error comes back from the stored example...
    replayed = zoo.runpytest(*EXP_VJP, REPLAY, BROKEN, "--gradcheck-example-db=db")
    replayed.assert_outcomes(failed=1)
    assert "exp kernel exploded" in replayed.stdout.str()
    # ...and without one no example runs at all (hypothesis says so).
    empty = zoo.runpytest(*EXP_VJP, REPLAY, BROKEN, "--gradcheck-example-db=empty")
    assert "exp kernel exploded" not in empty.stdout.str()
    assert "run no test cases" in empty.stdout.str()


def test_the_ci_profile_uses_an_explicit_database(zoo):
    args = [*EXP_VJP, "--hypothesis-profile=gradcheck-ci", BROKEN]
    zoo.runpytest(*args, "--gradcheck-example-db=db").assert_outcomes(failed=1)
    assert entries(zoo.path / "db")


def test_none_and_unset_store_nothing_and_env_and_ini_forms(zoo, monkeypatch):
    # The save profile has no database: with none (or unset) nothing is stored anywhere.
    result = zoo.runpytest(*EXP_VJP, SAVE, BROKEN, "--gradcheck-example-db=none")
    result.assert_outcomes(failed=1)
    assert "example database none" in header(result)
    assert not (zoo.path / ".hypothesis").exists()
    assert "example database" not in header(zoo.runpytest(*EXP_VJP, "--co"))

    monkeypatch.setenv("GRADCHECK_EXAMPLE_DB", "from-env")
    assert f"example database {zoo.path / 'from-env'}" in header(zoo.runpytest(*EXP_VJP, "--co"))
    monkeypatch.delenv("GRADCHECK_EXAMPLE_DB")
    zoo.makeini("[pytest]\ngradcheck_example_db = from-ini\n")
    assert f"example database {zoo.path / 'from-ini'}" in header(zoo.runpytest(*EXP_VJP, "--co"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a-file", "'a-file' is a file, not a directory; give a directory path"),
        ("a-file/db", "'a-file/db': cannot create the directory"),
        ("http://host/db", "unknown scheme 'http'; give a directory path, redis://"),
    ],
)
def test_bad_values_are_one_line_usage_errors(zoo, value, message):
    (zoo.path / "a-file").write_text("not a directory\n")
    result = zoo.runpytest(*EXP_VJP, *FAST, "--co", f"--gradcheck-example-db={value}")
    line = usage_error(result)
    assert line.startswith("ERROR: gradcheck: --gradcheck-example-db "), line
    assert message in line


def test_redis_without_the_redis_package_says_to_install_it(zoo):
    if importlib.util.find_spec("redis") is not None:
        pytest.skip("the redis package is installed")
    result = zoo.runpytest(*EXP_VJP, *FAST, "--co", "--gradcheck-example-db=redis://localhost:6379")
    assert "needs the redis package: pip install redis" in usage_error(result)


def test_an_unreachable_redis_server_is_a_usage_error(zoo):
    if importlib.util.find_spec("redis") is None:
        pytest.skip("the redis package is not installed")
    url = "redis://user:secret@localhost:1/0"  # port 1: nothing listens there
    line = usage_error(zoo.runpytest(*EXP_VJP, *FAST, "--co", f"--gradcheck-example-db={url}"))
    assert "'redis://user:***@localhost:1/0': cannot use the redis server" in line


def redis_reachable() -> str | None:
    """Why the redis test cannot run here, or None when it can."""
    if importlib.util.find_spec("redis") is None:
        return "the redis package is not installed"
    try:
        socket.create_connection(("localhost", 6379), timeout=1).close()
    except OSError as error:
        return f"no redis server at localhost:6379 ({error})"
    return None


def test_a_redis_database_stores_and_replays_the_failing_examples(zoo):
    reason = redis_reachable()
    if reason:
        pytest.skip(reason)
    import redis

    url = "redis://localhost:6379/15"  # a database number of its own
    client = redis.Redis.from_url(url)
    before = set(client.keys("hypothesis-example:*"))
    try:
        zoo.runpytest(*EXP_VJP, SAVE, BROKEN, f"--gradcheck-example-db={url}").assert_outcomes(
            failed=1
        )
        assert set(client.keys("hypothesis-example:*")) - before, "no example saved"
        zoo.runpytest(*EXP_VJP, REPLAY, BROKEN, f"--gradcheck-example-db={url}").assert_outcomes(
            failed=1
        )
    finally:  # leave the server as found
        for key in set(client.keys("hypothesis-example:*")) - before:
            client.delete(key)
