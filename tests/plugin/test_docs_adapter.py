"""The adapter in docs/writing-an-adapter.md works as printed."""

from __future__ import annotations

import re
from pathlib import Path

from plugin_helpers import FAST, assert_clean

DOC = Path(__file__).parents[2] / "docs" / "writing-an-adapter.md"


def test_documented_adapter_runs_the_suite(pytester):
    source = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    pytester.makepyfile(my_engine_gradcheck=source)
    pytester.syspathinsert()
    result = pytester.runpytest("--pyargs", "gradcheck.suite.test_ops", *FAST,
                                "--gradcheck-adapter=my_engine_gradcheck:adapter",
                                "--gradcheck-ops=exp,add,sum")  # fmt: skip
    assert_clean(result)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 0 and "failed" not in outcomes, result.stdout.str()
    assert "adapter my-engine 0.1.0" in result.stdout.str()
