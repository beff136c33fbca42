"""`python -m gradcheck`: runs the suite through pytest, exit code is pytest's."""

from __future__ import annotations

import sys

import pytest

from gradcheck.__main__ import pytest_args


def test_flags_become_pytest_options():
    args = pytest_args(["--adapter", "torch", "--dtypes", "float64", "--", "-x", "-q"])
    assert args[:2] == ["--pyargs", "gradcheck.suite"]
    assert "--gradcheck-adapter=torch" in args and "--gradcheck-dtypes=float64" in args
    assert args[-2:] == ["-x", "-q"]
    assert not any(a.startswith("--gradcheck-device") for a in args)  # env/ini still apply


def test_workers_become_xdist_processes():
    assert pytest_args(["--workers", "2"])[-2:] == ["-n", "2"]
    assert pytest_args(["--workers", "auto", "--", "-q"])[-3:] == ["-n", "auto", "-q"]
    with pytest.raises(SystemExit, match="give a count or 'auto'"):
        pytest_args(["--workers", "0"])


def test_every_suite_option_has_its_flag():
    from pytest_gradcheck import OPTIONS

    args = pytest_args([f"--{name}=x" for name, _ in OPTIONS])
    assert all(f"--gradcheck-{name}=x" in args for name, _ in OPTIONS)


def test_help(pytester):
    result = pytester.run(sys.executable, "-m", "gradcheck", "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["usage: python -m gradcheck*", "*--adapter*"])


def test_exit_code_is_pytests(pytester):
    fast = ["--profile", "gradcheck-smoke", "--ops", "exp", "--dtypes", "float64"]
    ok = pytester.run(sys.executable, "-m", "gradcheck", *fast, "--", "-p", "no:randomly",
                      "-k", "test_op and vjp")  # fmt: skip
    assert ok.ret == 0
    ok.stdout.fnmatch_lines(["*gradcheck matrix*", "exp*P"])
    bad = pytester.run(sys.executable, "-m", "gradcheck", "--adapter", "nonesuch")
    assert bad.ret == 4
    assert "unknown adapter 'nonesuch'" in bad.stderr.str()
