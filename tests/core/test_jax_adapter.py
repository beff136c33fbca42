"""The jax adapter: every catalog op against the reference, its batched VJPs, jax's x64
flag put back after a run, the checks it cannot run skipping with a reason, its declared
conventions, and what happens without jax. Skipped, saying so, where jax is missing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.adapters import AdapterError, load_adapter
from gradcheck.errors import Unsupported
from gradcheck.ops import CATALOG
from gradcheck.strategies import graphs

jax = pytest.importorskip("jax", reason="the jax adapter needs jax, which is not installed")

PER_OP = settings(max_examples=4, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
# Kinked ops whose jax subgradient the catalog cannot declare: gradcheck/xfails/jax.txt.
XFAILED_CONVENTIONS = {"leaky_relu", "hardtanh", "pow_scalar", "atan2", "xlogy", "sort"}


@pytest.fixture(scope="module")
def adapter():
    adapter = load_adapter("jax")
    adapter.prepare()
    yield adapter
    adapter.restore()


def tensors(adapter, arrays, dtype="float64"):
    return [adapter.asarray(np.asarray(a), dtype, "cpu", False) for a in arrays]


def run_op(adapter, op, inputs, attrs):
    """(output, grads) of one op in float64 for a fixed, not all-ones cotangent."""
    xs = tensors(adapter, inputs)

    def fn(*ys):
        return (adapter.ops[op](*ys, **attrs),)

    out = adapter.to_numpy(fn(*xs)[0])
    cotangent = np.linspace(-1.0, 2.0, num=out.size).reshape(out.shape)
    _, grads = adapter.vjp(fn, xs, tensors(adapter, [cotangent]))
    return out, [adapter.to_numpy(g) for g in grads]


@pytest.mark.parametrize("op", list(CATALOG))
@PER_OP
@given(data=st.data())
def test_jax_and_reference_agree_on_values_and_vjps(adapter, op, data):
    from reference_engine import conventions

    graph = data.draw(graphs(ops=[op], max_nodes=1), label="graph")
    node = graph.nodes[0]
    inputs, attrs = [graph.leaves[i].values for i in node.inputs], dict(node.attrs)
    out, grads = run_op(adapter, op, inputs, attrs)
    with conventions.using(adapter.conventions):  # at a drawn tie: jax's declared choice
        ref_out, ref_grads = run_op(load_adapter("reference"), op, inputs, attrs)
    for actual, expected in zip([out, *grads], [ref_out, *ref_grads], strict=True):
        scale = float(np.max(np.abs(expected), initial=1.0))
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * scale)


def test_every_catalog_op_has_a_jax_template(adapter):
    assert sorted(adapter.ops) == sorted(CATALOG)
    assert not [op for op in adapter.ops if op.endswith("_")], "jax has no in-place ops"


def tanh_times_y(adapter):
    def fn(x, y):
        return (adapter.ops["sum"](adapter.ops["mul"](adapter.ops["tanh"](x), y),
                                   dim=0, keepdim=False),)  # fmt: skip

    return fn


def test_batched_vjp_equals_one_vjp_per_cotangent(adapter):
    x, y = np.array([[0.3, -1.2, 0.7], [1.9, -0.4, 1.1]]), np.array([0.5, -0.25, 2.0])
    cots = np.stack([np.linspace(-1.0, 1.0, 3), np.array([2.0, 0.0, -1.5]), np.zeros(3)])
    fn = tanh_times_y(adapter)
    (out,), grads = adapter.batched_vjp(fn, tensors(adapter, [x, y]), tensors(adapter, [cots]))
    np.testing.assert_allclose(adapter.to_numpy(out), np.sum(np.tanh(x) * y, axis=0))
    for b in range(3):  # closed forms: d/dx = c (1 - tanh^2 x) y, d/dy = sum_0 c tanh x
        dx = cots[b] * (1 - np.tanh(x) ** 2) * y
        dy = np.sum(cots[b] * np.tanh(x), axis=0)
        np.testing.assert_allclose(adapter.to_numpy(grads[0])[b], dx, rtol=1e-14)
        np.testing.assert_allclose(adapter.to_numpy(grads[1])[b], dy, rtol=1e-14)
    assert not np.any(adapter.to_numpy(grads[0])[2]), "a zero cotangent gave a nonzero VJP"


def test_vmap_vjp_equals_the_vjp_of_each_sample(adapter):
    x = np.array([[0.3, -1.2, 0.7], [1.9, -0.4, 1.1]])
    xs, ys = np.stack([x, -x, x[::-1]]), np.array([[0.5, -0.25, 2.0], [1.0, 2.0, 3.0], [0, 1, 0]])
    cots = np.stack([np.linspace(-1.0, 1.0, 3), np.array([2.0, 0.0, -1.5]), np.ones(3)])
    fn = tanh_times_y(adapter)
    (outs,), grads = adapter.vmap_vjp(fn, tensors(adapter, [xs, ys]), tensors(adapter, [cots]))
    assert adapter.to_numpy(outs).shape == (3, 3) and adapter.to_numpy(grads[0]).shape == xs.shape
    for b in range(3):
        (out,), one = adapter.vjp(fn, tensors(adapter, [xs[b], ys[b]]), tensors(adapter, [cots[b]]))
        np.testing.assert_allclose(adapter.to_numpy(outs)[b], np.sum(np.tanh(xs[b]) * ys[b], 0))
        np.testing.assert_allclose(adapter.to_numpy(outs)[b], adapter.to_numpy(out), rtol=1e-15)
        for got, want in zip(grads, one, strict=True):
            np.testing.assert_allclose(adapter.to_numpy(got)[b], adapter.to_numpy(want), rtol=1e-15)
        dx = cots[b] * (1 - np.tanh(xs[b]) ** 2) * ys[b]
        np.testing.assert_allclose(adapter.to_numpy(grads[0])[b], dx, rtol=1e-14)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_results_come_back_in_the_dtype_asked_for(adapter, dtype):
    x = adapter.asarray(np.array([0.5, -1.5, 2.0]), dtype, "cpu", True)
    cotangent = adapter.asarray(np.ones(3), dtype, "cpu", False)
    (out,), (grad,) = adapter.vjp(lambda t: (adapter.ops["softmax"](t, dim=0),), [x], [cotangent])
    assert adapter.dtype_of(out) == adapter.dtype_of(grad) == dtype
    assert adapter.device_of(out) == "cpu"


@pytest.mark.parametrize("before", [False, True])
def test_prepare_sets_x64_and_restore_puts_back_what_was_there(before):
    adapter = load_adapter("jax")
    x64, precision = jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision
    jax.config.update("jax_enable_x64", before)
    try:
        flags = adapter.prepare()
        assert flags == {"jax_enable_x64": True, "jax_default_matmul_precision": "highest"}
        assert jax.config.jax_enable_x64 is True
        adapter.restore()
        assert jax.config.jax_enable_x64 is before
        assert jax.config.jax_default_matmul_precision == precision
    finally:
        jax.config.update("jax_enable_x64", x64)


def test_float64_without_x64_mode_says_to_call_prepare():
    adapter, x64 = load_adapter("jax"), jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(RuntimeError, match="call the adapter's prepare"):
            adapter.asarray(np.zeros(2), "float64", "cpu", False)
    finally:
        jax.config.update("jax_enable_x64", x64)


def test_a_suite_run_restores_x64(pytester):
    x64 = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    result = pytester.runpytest_inprocess(
        "--pyargs", "gradcheck.suite.test_ops", "--gradcheck-adapter=jax", "--gradcheck-ops=exp",
        "--gradcheck-dtypes=float64", "--hypothesis-profile=gradcheck-smoke", "-k", "vjp",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    x64_after, _ = jax.config.jax_enable_x64, jax.config.update("jax_enable_x64", x64)
    result.assert_outcomes(passed=1)
    assert x64_after is False, "the run left jax's x64 mode on"


def test_inplace_and_semantics_checks_skip_with_a_reason(adapter):
    from gradcheck.checks import run_check
    from gradcheck.graph import Graph, Node
    from gradcheck.semantics import SEMANTICS_CASES, run_semantics

    x = np.array([0.5, -1.0])
    graph = Graph([x], [Node("exp", [0], {})], [1], [np.ones(2)], [np.ones(2)])
    with pytest.raises(Unsupported, match="exp_"):
        run_check("inplace", graph, adapter)
    for case in SEMANTICS_CASES:
        with pytest.raises(Unsupported, match="imperative"):
            run_semantics(case, adapter)


@pytest.mark.parametrize(
    "op", [op for op, spec in CATALOG.items() if spec.samples and op not in XFAILED_CONVENTIONS]
)
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_the_conventions_check_passes_with_the_declared_conventions(adapter, op, dtype):
    from gradcheck.conventions import run_conventions

    if (op, dtype) == ("std", "float32"):
        pytest.skip("declared in gradcheck/xfails/jax.txt: std of equal values is 1.5e-8")
    run_conventions(op, adapter, dtype=dtype)


@pytest.mark.parametrize("op", ["abs", "clamp", "std", "norm"])
def test_without_its_declarations_the_conventions_check_fails(adapter, op):
    from gradcheck.adapters.base import as_adapter
    from gradcheck.conventions import run_conventions
    from gradcheck.errors import GradcheckFailure

    undeclared = as_adapter(type(adapter)())
    undeclared.conventions = {}  # a copy of its own: the module's adapter stays as it is
    with pytest.raises(GradcheckFailure, match=op):
        run_conventions(op, undeclared, dtype="float64")


def test_importing_gradcheck_does_not_import_jax():
    code = "import sys, gradcheck, gradcheck.adapters; assert 'jax' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_without_jax_loading_it_is_a_one_line_error_saying_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)  # `import jax` now raises ImportError
    monkeypatch.delitem(sys.modules, "gradcheck.adapters.jax", raising=False)
    with pytest.raises(AdapterError) as error:
        load_adapter("jax")
    message = str(error.value)
    assert "\n" not in message and "pip install jax" in message, message


@pytest.mark.parametrize("size", [0, 3])
def test_adjoint_at_a_declared_nan_kink_is_inconclusive_not_a_failure(adapter, size):
    from gradcheck.checks import run_check
    from gradcheck.errors import Inconclusive
    from gradcheck.graph import Graph, Node

    zero = np.zeros(size)  # norm at the zero vector (or of no elements): jax's 0 / 0
    node = Node("norm", [0], {"dim": None, "keepdim": False})
    graph = Graph([zero], [node], [1], [np.array(0.77)], [np.linspace(0.5, 1.0, size)])
    with pytest.raises(Inconclusive, match="NaN derivatives declared for norm"):
        run_check("adjoint", graph, adapter)
    if size:  # off the kink: compared, and it passes
        away = Graph([zero + 1.5], [node], [1], [np.array(0.77)], [np.linspace(0.5, 1.0, size)])
        run_check("adjoint", away, adapter)
