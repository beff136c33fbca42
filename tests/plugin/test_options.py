"""The --gradcheck-* options: their env and ini forms, precedence, validation, the header,
and that the plugin stays inert in runs that do not use it."""

from __future__ import annotations

from pathlib import Path

import pytest
from plugin_helpers import FAST, assert_clean, usage_error

from gradcheck.checks import GRAPH_CHECKS
from gradcheck.ops import CATALOG

SUITE = ["--pyargs", "gradcheck.suite"]
OPS_ONLY = ["--pyargs", "gradcheck.suite.test_ops"]


def collected_ids(result: pytest.RunResult) -> list[str]:
    return [line.split("::")[-1] for line in result.stdout.lines if "::test_" in line]


def header(result: pytest.RunResult) -> str:
    return "\n".join(line for line in result.stdout.lines if line.startswith("gradcheck:"))


def test_help_states_every_option_with_its_default(pytester):
    result = pytester.runpytest("--help")
    text = " ".join(result.stdout.str().split())
    for name in ("adapter", "device", "dtypes", "ops", "skip-ops", "xfails-file", "report",
                 "example-db"):  # fmt: skip
        assert f"--gradcheck-{name}" in text
    assert "(default: reference)" in text
    assert "(default: cpu)" in text
    assert "GRADCHECK_ADAPTER" in text


def test_header_names_adapter_version_device_dtypes_and_profile(zoo):
    profile = "--hypothesis-profile=gradcheck-smoke"
    result = zoo.runpytest(*OPS_ONLY, *FAST, profile, "--co", "--gradcheck-ops=exp")
    assert result.ret == 0
    line = header(result)
    assert "gradcheck: adapter reference" in line
    assert "device cpu, dtypes float64,float32, 1 ops" in line
    assert "hypothesis profile gradcheck-smoke" in line


def test_header_shows_precision_flags(zoo):
    result = zoo.runpytest(*OPS_ONLY, *FAST, "--co", "--gradcheck-adapter=zoo:with_flags")
    assert "gradcheck: precision flags: tf32=False" in header(result)


def test_ids_name_check_op_and_dtype(zoo):
    result = zoo.runpytest(*OPS_ONLY, *FAST, "--co", "-q", "--gradcheck-ops=exp,tanh")
    ids = collected_ids(result)
    assert "test_op[vjp-tanh-float32]" in ids
    assert "test_op[finite_difference-exp-float64]" in ids
    assert "test_op[finite_difference-exp-float32]" not in ids  # differences: float64 only
    assert "test_op[inplace-tanh-float32]" in ids  # tanh_ and exp_ exist
    others = len(GRAPH_CHECKS) - 1  # every graph check but finite_difference
    assert len(ids) == 2 * (2 * others + 1)  # ops x (dtypes x other graph checks + differences)


def test_only_ops_with_an_in_place_form_get_inplace_cases(zoo):
    result = zoo.runpytest("--pyargs", "gradcheck.suite.test_ops", "gradcheck.suite.test_graphs",
                           *FAST, "--co", "-q", "--gradcheck-ops=exp,log,transpose")  # fmt: skip
    inplace = [i for i in collected_ids(result) if "[inplace-" in i]
    assert sorted(inplace) == [f"{test}[inplace-{subject}-{dtype}]" for test, subject in
                               (("test_graph", "unary"), ("test_op", "exp"))
                               for dtype in ("float32", "float64")], inplace  # fmt: skip


def test_graph_ids_name_the_family(zoo):
    args = ["--pyargs", "gradcheck.suite.test_graphs", *FAST, "--co", "-q", "--gradcheck-ops=sum"]
    assert "test_graph[vjp-reduction-float64]" in collected_ids(zoo.runpytest(*args))


@pytest.mark.parametrize(
    ("source", "expected"),
    [("cli", "float32"), ("env", "float64"), ("ini", "float32"), ("none", "float64,float32")],
)
def test_precedence_cli_then_env_then_ini(zoo, monkeypatch, source, expected):
    args = [*OPS_ONLY, *FAST, "--co", "--gradcheck-ops=exp"]
    if source in ("ini", "env", "cli"):
        zoo.makeini("[pytest]\ngradcheck_dtypes = float32\n")
    if source in ("env", "cli"):
        monkeypatch.setenv("GRADCHECK_DTYPES", "float64")
    if source == "cli":
        args.append("--gradcheck-dtypes=float32")
    assert f"dtypes {expected}," in header(zoo.runpytest(*args))


@pytest.mark.parametrize(
    ("env", "value", "shown"),
    [
        ("GRADCHECK_ADAPTER", "zoo:good", "adapter zoo 0.0"),
        ("GRADCHECK_OPS", "exp,add", "2 ops"),
        ("GRADCHECK_SKIP_OPS", "exp", f"{len(CATALOG) - 1} ops"),
        ("GRADCHECK_DEVICE", "cpu", "device cpu"),
    ],
)
def test_env_forms(zoo, monkeypatch, env, value, shown):
    monkeypatch.setenv(env, value)
    assert shown in header(zoo.runpytest(*OPS_ONLY, *FAST, "--co"))


def test_ini_form_of_ops(zoo):
    zoo.makeini("[pytest]\ngradcheck_ops = exp, add\n")
    result = zoo.runpytest(*OPS_ONLY, *FAST, "--co", "-q")
    assert {i.split("-")[1] for i in collected_ids(result)} == {"exp", "add"}


def test_skip_ops_removes_ops(zoo):
    result = zoo.runpytest(*OPS_ONLY, *FAST, "--co", "-q", "--gradcheck-ops=exp,add",
                           "--gradcheck-skip-ops=add")  # fmt: skip
    assert {i.split("-")[1] for i in collected_ids(result)} == {"exp"}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--gradcheck-ops=exq", "unknown op 'exq' (did you mean exp"),
        ("--gradcheck-skip-ops=tanhh", "unknown op 'tanhh' (did you mean tanh"),
        ("--gradcheck-dtypes=float63", "unknown dtype 'float63' (did you mean float64"),
        ("--gradcheck-dtypes=bfloat16", "does not support dtype bfloat16"),
        ("--gradcheck-device=tpu", "device 'tpu' is not available"),
        ("--gradcheck-device=CPU 0", "device 'CPU 0' is not a device name"),
        ("--gradcheck-adapter=nonesuch", "unknown adapter 'nonesuch'"),
        ("--gradcheck-xfails-file=missing.txt", "cannot read xfails file"),
    ],
)
def test_bad_values_are_one_line_usage_errors(zoo, option, message):
    args = [*OPS_ONLY, *FAST, "--co", option]
    if "adapter" not in option and "dtypes=bf" in option:
        args.append("--gradcheck-adapter=zoo:good")
    assert message in usage_error(zoo.runpytest(*args))


def test_op_the_adapter_lacks_is_a_usage_error_when_asked_for(zoo):
    result = zoo.runpytest(*OPS_ONLY, *FAST, "--co", "--gradcheck-adapter=zoo:no_exp",
                           "--gradcheck-ops=exp,add")  # fmt: skip
    assert "adapter 'zoo' does not implement exp" in usage_error(result)


def test_op_the_adapter_lacks_is_skipped_and_reported_by_default(zoo):
    result = zoo.runpytest(*OPS_ONLY, *FAST, "-rs", "--gradcheck-adapter=zoo:no_exp",
                           "--gradcheck-ops=add", "--gradcheck-dtypes=float64")  # fmt: skip
    assert result.ret == 0
    no_exp = zoo.runpytest(
        "--pyargs", "gradcheck.suite.test_ops::test_op[vjp-exp-float64]", *FAST, "-rs",
        "--gradcheck-adapter=zoo:no_exp",
    )  # fmt: skip
    no_exp.assert_outcomes(skipped=1)
    no_exp.stdout.fnmatch_lines(["*adapter 'zoo' lacks exp*"])


def test_inert_without_gradcheck_options(pytester, monkeypatch):
    # Even a GRADCHECK_* variable in the environment must not touch unrelated runs.
    monkeypatch.setenv("GRADCHECK_ADAPTER", "nonesuch")
    pytester.makepyfile(
        """
        import sys

        def test_nothing_loaded():
            assert "torch" not in sys.modules
            assert "gradcheck.adapters" not in sys.modules
            from hypothesis import settings
            # hypothesis' own choice stays ("ci" where CI is set), never a gradcheck one
            assert not settings.get_current_profile_name().startswith("gradcheck")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
    assert "gradcheck:" not in result.stdout.str()


def test_a_gradcheck_option_activates_the_plugin_anywhere(pytester):
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest("--gradcheck-adapter=nonesuch")
    assert "unknown adapter 'nonesuch'" in usage_error(result)


def test_suite_collected_untargeted_activates_lazily_and_stops_cleanly(pytester, monkeypatch):
    # `pytest .` in a checkout collects the suite without naming it.
    import gradcheck

    monkeypatch.setenv("GRADCHECK_ADAPTER", "nonesuch")
    result = pytester.runpytest(str(Path(gradcheck.__file__).parent), "--co", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unknown adapter 'nonesuch'" in result.stdout.str()
    assert_clean(result)


def test_the_entry_point_imports_nothing_heavy_and_is_fast():
    import subprocess
    import sys

    code = (
        "import sys, time; t = time.perf_counter(); import pytest_gradcheck; "
        "print(time.perf_counter() - t); "
        "heavy = [m for m in ('gradcheck', 'numpy', 'hypothesis', 'torch') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    # pytest itself is imported by then in any pytest run: measure the module alone.
    setup = "import pytest, importlib.util, functools, re, pathlib; "
    seconds = [
        float(subprocess.run([sys.executable, "-c", setup + code], capture_output=True,
                             text=True, check=True).stdout)
        for _ in range(3)
    ]  # fmt: skip
    assert min(seconds) < 0.05, seconds


def test_a_project_with_its_own_gradcheck_module_runs_its_tests(pytester):
    pytester.makepyfile(gradcheck="VALUE = 41\n")  # a user's module named like the package
    pytester.makepyfile(
        test_mine="import gradcheck\n\ndef test_it():\n    assert gradcheck.VALUE == 41\n"
    )
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_the_suite_profile_does_not_touch_the_users_own_tests(zoo):
    zoo.makepyfile(
        test_users="""
        from hypothesis import settings

        def test_profile_is_hypothesis_own():
            assert not settings.get_current_profile_name().startswith("gradcheck")
            assert settings.default.max_examples == 100
        """
    )
    # A subprocess: inline runs share this process's hypothesis profile.
    result = zoo.runpytest_subprocess("test_users.py", "-p", "no:randomly", "--gradcheck-ops=exp")
    result.assert_outcomes(passed=1)


def test_batched_runs_a_quarter_of_the_profiles_examples(zoo):
    pytest.importorskip("torch")
    args = [*OPS_ONLY, "-p", "no:randomly", "-p", "no:cacheprovider",
            "--hypothesis-profile=gradcheck-ci", "--gradcheck-adapter=torch",
            "--gradcheck-ops=tanh", "-k", "batched or vjp"]  # fmt: skip
    result = zoo.runpytest(*args)
    assert "hypothesis profile gradcheck-ci (batched: 12 examples per test)" in header(result)
    # test_op[vjp-tanh-*]: 50 examples each; test_op_batched[batched-tanh-*]: 50 // 4.
    result.stdout.fnmatch_lines(["4 passed; 124 examples, 0 inconclusive"])
