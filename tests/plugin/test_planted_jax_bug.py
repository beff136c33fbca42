"""A bug planted in a jax op's custom VJP is caught by the suite's default profile (one
pinned seed), with a repro script that uses only jax and numpy, fails on its own, and
passes once the planted op is the real one.

The plant: tanh as a `jax.custom_vjp` whose backward uses 1 - y where the truth is
1 - y^2, substituted through the adapter (a subclass of the jax adapter, loaded by
`module:attr`), so that the repro carries it in its prelude as it carries every helper.
"""

from __future__ import annotations

import pytest
from plugin_helpers import run_script

# Imported here, once: pytester drops modules first imported inside a test.
pytest.importorskip("jax", reason="the jax adapter needs jax, which is not installed")

PLANT = """

@jax.custom_vjp
def planted_tanh(x):
    return jnp.tanh(x)


def planted_tanh_fwd(x):
    y = jnp.tanh(x)
    return y, y


def planted_tanh_bwd(y, grad):
    return (grad * (1 - y),)  # the truth: grad * (1 - y * y)


planted_tanh.defvjp(planted_tanh_fwd, planted_tanh_bwd)
"""

PLANTED_ADAPTER = f"""
from gradcheck.adapters.base import compile_ops
from gradcheck.adapters.jax import JaxAdapter
from gradcheck.adapters.jax_ops import OP_SOURCE, OP_SOURCE_PRELUDE

PLANT = {PLANT!r}


class PlantedJax(JaxAdapter):
    op_source = {{**OP_SOURCE, "tanh": "planted_tanh({{x}})"}}
    op_source_prelude = OP_SOURCE_PRELUDE + PLANT

    def __init__(self):
        super().__init__()
        self.ops = compile_ops(self.op_source, self.op_source_prelude)


adapter = PlantedJax()
"""


def test_a_custom_vjp_bug_is_caught_with_a_jax_only_repro(pytester):
    pytester.makepyfile(planted_jax=PLANTED_ADAPTER)
    repros = pytester.path / "repros"
    result = pytester.runpytest_subprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=planted_jax:adapter",
        "--gradcheck-ops=tanh", "--gradcheck-dtypes=float64", f"--gradcheck-repro-dir={repros}",
        "--hypothesis-profile=gradcheck-dev", "--hypothesis-seed=1",
        "--gradcheck-example-db=none", "-p", "no:cacheprovider", "-k", "vjp and not jvp",
    )  # fmt: skip
    result.stdout.fnmatch_lines(["*[[]vjp[]] at op 'tanh (node 0)'*"])
    assert result.ret == 1
    script = repros / "vjp__tanh__float64__cpu.py"
    source = script.read_text()
    imports = {line.split()[1] for line in source.splitlines() if line.startswith("import ")}
    assert imports <= {"numpy", "jax", "jax.numpy", "jax.scipy.special"}, imports
    assert "gradcheck" not in source.replace("# gradcheck repro", "")
    planted = run_script(script, "")
    assert planted.returncode != 0 and "AssertionError" in planted.stderr, planted.stderr
    # The same script with jax's own tanh in place of the planted one passes: it fails
    # because of the planted backward, nothing else.
    assert PLANT in source and source.count("planted_tanh(") >= 2
    real = script.with_name("real.py")
    real.write_text(source.replace(PLANT, "\n").replace("planted_tanh(", "jnp.tanh("))
    passed = run_script(real, "")
    assert passed.returncode == 0, passed.stderr
