"""The built-in adapters (torch, torch-compile, reference) and the adapter registry."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck.adapters import AdapterError, available_adapters, load_adapter, validate_adapter
from gradcheck.adapters.base import render_op
from gradcheck.checks import run_check
from gradcheck.errors import Inconclusive, Unsupported
from gradcheck.literals import python_literal
from gradcheck.ops import CATALOG
from gradcheck.strategies import graphs


def needs(engine: str, name: str):
    """A pytest param for adapter `name`, skipped with a reason where `engine` (the
    package its adapter imports) is not installed."""
    missing = importlib.util.find_spec(engine) is None
    reason = f"adapter {name!r} needs {engine}, which is not installed"
    return pytest.param(name, id=name, marks=pytest.mark.skipif(missing, reason=reason))


JAX = needs("jax", "jax")
ADAPTERS = ("torch", "torch-compile", "reference", JAX)
cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
OPS = list(CATALOG)  # every op, from the one record of ops
# A few generated one-op examples per op: inputs inside its domains, away from its kinks.
PER_OP = settings(max_examples=4, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip


def drawn(op: str, data) -> tuple[list[np.ndarray], dict]:
    """(inputs, attrs) of a drawn one-op graph of `op`."""
    graph = data.draw(graphs(ops=[op], max_nodes=1), label="graph")
    node = graph.nodes[0]
    return [graph.leaves[i].values for i in node.inputs], dict(node.attrs)


@pytest.fixture(scope="module", params=ADAPTERS)
def adapter(request):
    adapter = load_adapter(request.param)
    if request.param != "jax":
        yield adapter
        return
    adapter.prepare()  # jax's x64 mode, for float64: what a run sets, and restores after
    yield adapter
    adapter.restore()


def run_op(adapter, op, inputs, attrs, device="cpu"):
    """(output, grads) of one op in float64 with a fixed, not all-ones cotangent."""
    xs = [adapter.asarray(x, "float64", device, True) for x in inputs]
    out = adapter.ops[op](*xs, **attrs)
    cotangent = np.linspace(-1.0, 2.0, num=np.size(adapter.to_numpy(out))).reshape(out.shape)
    outputs, grads = adapter.vjp(
        lambda *ys: (adapter.ops[op](*ys, **attrs),),
        xs,
        [adapter.asarray(cotangent, "float64", device, False)],
    )
    return adapter.to_numpy(outputs[0]), [adapter.to_numpy(g) for g in grads]


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    """float64 agreement as the suite's float64 comparisons allow it."""
    scale = float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize("op", OPS)
@PER_OP
@given(data=st.data())
def test_torch_and_reference_agree_on_values_and_vjps(op, data):
    agrees_with_reference("torch", op, data)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("op", OPS)
@settings(PER_OP, max_examples=1)
@given(data=st.data())
def test_torch_runs_each_op_at_low_precision_or_says_it_cannot(op, dtype, data):
    """torch has no CPU float16 kernel for solve ("lu_cpu" not implemented for 'Half'):
    such an op is a limitation(op, "forward", dtype), so its checks skip with the reason
    and random graphs leave it out, instead of failing with NotImplementedError."""
    adapter = load_adapter("torch")
    graph = data.draw(graphs(ops=[op], max_nodes=1), label="graph")
    reason = adapter.limitation(op, "forward", dtype)
    if reason is not None:
        assert op in reason and dtype in reason, reason
        with pytest.raises(Unsupported, match=re.escape(reason)):
            run_check("forward", graph, adapter, dtype=dtype)
        return
    try:
        run_check("forward", graph, adapter, dtype=dtype)
    except Inconclusive:
        pass


@pytest.mark.parametrize("amx", [True, False])
def test_torch_declares_bfloat16_convolutions_on_amx_only(monkeypatch, amx):
    """oneDNN's AMX bfloat16 weight gradient of a convolution is wrong now and then
    (docs/findings.md): the ops are left out at bfloat16 on such a CPU, and nowhere else."""
    import gradcheck.adapters.torch as torch_adapter

    monkeypatch.setattr(torch_adapter, "_has_amx", lambda: amx)
    adapter = load_adapter("torch")
    for op in ("conv1d", "conv2d", "conv_transpose2d"):
        assert (adapter.limitation(op, "forward", "bfloat16") is not None) == amx, op
        for dtype in ("float64", "float32", "float16"):
            assert adapter.limitation(op, "forward", dtype) is None, (op, dtype)
    assert adapter.limitation("linear", "forward", "bfloat16") is None


def agrees_with_reference(name, op, data):
    """Adapter `name` and the reference give the same values and VJPs for a drawn `op`."""
    inputs, attrs = drawn(op, data)
    out, grads = run_op(load_adapter(name), op, inputs, attrs)
    ref_out, ref_grads = run_op(load_adapter("reference"), op, inputs, attrs)
    close(out, ref_out)
    for grad, ref_grad in zip(grads, ref_grads, strict=True):
        close(grad, ref_grad)


@pytest.mark.parametrize("op", OPS)
@PER_OP
@given(data=st.data())
def test_rendered_template_computes_what_the_op_computes(adapter, op, data):
    # The repro text and the callable come from one template: check they agree.
    if op not in adapter.ops:
        pytest.skip(f"adapter {adapter.name!r} leaves {op} out")
    inputs, attrs = drawn(op, data)
    names = [f"v{i}" for i in range(len(inputs))]
    namespace: dict = {}
    exec(adapter.op_source_prelude, namespace)
    namespace.update(
        {n: adapter.asarray(x, "float64", "cpu", False) for n, x in zip(names, inputs, strict=True)}
    )
    with warnings.catch_warnings():  # a repro must not warn ("1 is None": SyntaxWarning)
        warnings.simplefilter("error", SyntaxWarning)
        rendered = eval(render_op(adapter.op_source[op], names, attrs), namespace)
    direct = adapter.ops[op](*(namespace[n] for n in names), **attrs)
    np.testing.assert_array_equal(adapter.to_numpy(rendered), adapter.to_numpy(direct))


@pytest.mark.parametrize("op", OPS)
@PER_OP
@given(data=st.data())
def test_forward_mode_is_the_adjoint_of_reverse_mode(adapter, op, data):
    # <u, J v> == <J^T u, v> checks every op's jvp against its (cross-checked) vjp.
    reason = adapter.limitation(op, "jvp", "float64")
    if reason is not None:
        pytest.skip(reason)  # declared: the engine has no forward mode for this op
    inputs, attrs = drawn(op, data)
    xs = [adapter.asarray(x, "float64", "cpu", False) for x in inputs]
    vs = [np.linspace(0.5, -1.5, num=x.size).reshape(x.shape) for x in inputs]

    def fn(*ys):
        return (adapter.ops[op](*ys, **attrs),)

    tangents = [adapter.asarray(v, "float64", "cpu", False) for v in vs]
    (out,), (jv,) = adapter.jvp(fn, xs, tangents)
    u = np.linspace(-1.0, 2.0, num=np.size(adapter.to_numpy(out))).reshape(out.shape)
    _, grads = adapter.vjp(fn, xs, [adapter.asarray(u, "float64", "cpu", False)])
    jtu_v = sum(np.vdot(adapter.to_numpy(g), v) for g, v in zip(grads, vs, strict=True))
    np.testing.assert_allclose(np.vdot(u, adapter.to_numpy(jv)), jtu_v, rtol=1e-12, atol=1e-12)


def skip_unless(adapter, capability: str) -> None:
    """Skip, with the adapter's reason, a test of a capability it does not declare."""
    reason = adapter.limitation("sin", capability, "float64")
    if reason is not None:
        pytest.skip(reason)


def test_nested_vjp_gives_the_second_derivative_of_a_cube(adapter):
    skip_unless(adapter, "higher_order")
    x = adapter.asarray(np.array([-1.5, 0.5, 2.0]), "float64", "cpu", True)
    ones = adapter.asarray(np.ones(3), "float64", "cpu", False)

    def cube(t):
        return (adapter.ops["pow_scalar"](t, exponent=3.0),)

    def first_derivative(t):
        return adapter.vjp(cube, [t], [ones])[1]

    (_,), (second,) = adapter.vjp(first_derivative, [x], [ones])
    np.testing.assert_allclose(adapter.to_numpy(second), [-9.0, 3.0, 12.0], rtol=1e-14)


def test_vjp_gives_zeros_for_an_unused_input(adapter):
    x, y = (adapter.asarray(np.array([1.0, 2.0]), "float64", "cpu", True) for _ in range(2))
    cotangent = adapter.asarray(np.array([3.0, 5.0]), "float64", "cpu", False)
    _, (dx, dy) = adapter.vjp(lambda a, b: (adapter.ops["sin"](a),), [x, y], [cotangent])
    np.testing.assert_allclose(adapter.to_numpy(dx), np.array([3.0, 5.0]) * np.cos([1.0, 2.0]))
    np.testing.assert_array_equal(adapter.to_numpy(dy), [0.0, 0.0])


def test_jvp_of_sin_is_cos_times_the_tangent(adapter):
    skip_unless(adapter, "jvp")
    values, tangent = np.array([0.3, -1.1, 2.5]), np.array([1.0, -2.0, 0.5])
    x = adapter.asarray(values, "float64", "cpu", False)
    t = adapter.asarray(tangent, "float64", "cpu", False)
    (out,), (out_tangent,) = adapter.jvp(lambda a: (adapter.ops["sin"](a),), [x], [t])
    np.testing.assert_allclose(adapter.to_numpy(out), np.sin(values), rtol=1e-15)
    np.testing.assert_allclose(adapter.to_numpy(out_tangent), np.cos(values) * tangent)


def test_asarray_rounds_to_the_dtype_and_to_numpy_returns_float64(adapter):
    values = np.array([0.1, 1.0 / 3.0, -2.7])
    for dtype in adapter.dtypes:
        x = adapter.asarray(values, dtype, "cpu", True)
        back = adapter.to_numpy(x)
        assert back.dtype == np.float64
        if dtype in ("float64", "float32", "float16"):  # numpy knows these
            np.testing.assert_array_equal(back, values.astype(dtype).astype(np.float64))
        else:
            assert not np.array_equal(back, values) and np.allclose(back, values, rtol=1e-2)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=cuda_only)])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_torch_asarray_honours_dtype_device_and_requires_grad(dtype, device):
    x = load_adapter("torch").asarray(np.zeros((2, 3)), dtype, device, True)
    assert x.dtype == getattr(torch, dtype) and x.device.type == device
    assert x.requires_grad and x.shape == (2, 3)


@cuda_only
def test_torch_cuda_vjp_matches_cpu():
    adapter = load_adapter("torch")
    assert "cuda" in adapter.devices
    x, index = np.array([[0.3, -1.2, 0.7], [1.9, -0.4, 1.1]]), np.array([[2, 2], [0, 1]])
    for op, inputs, attrs in [
        ("gather", (x,), {"dim": 1, "index": index}),
        ("logsumexp", (x,), {"dim": 1, "keepdim": False}),
        ("matmul", (x, x.T), {}),
    ]:
        on_cpu = run_op(adapter, op, inputs, attrs, device="cpu")
        on_cuda = run_op(adapter, op, inputs, attrs, device="cuda")
        for cpu_value, cuda_value in zip(on_cpu[1], on_cuda[1], strict=True):
            np.testing.assert_allclose(cpu_value, cuda_value, rtol=1e-12)


def test_torch_prepare_sets_the_documented_precision_and_reports_it():
    adapter = load_adapter("torch")
    before = adapter.precision_flags()
    try:
        adapter.configure(float32_matmul_precision="high", tf32_cudnn=True)
        flags = adapter.prepare()
    finally:
        adapter.configure(**before)
    assert flags == {
        "tf32_matmul": False,
        "tf32_cudnn": False,
        "float32_matmul_precision": "highest",
        "deterministic_algorithms": False,
        "num_threads": 1,
    }
    assert adapter.precision_flags() == before
    with pytest.raises(AdapterError, match="unknown torch precision flags"):
        adapter.configure(tf32=True)


def test_python_literal_writes_arrays_slices_and_infinities():
    int64 = np.array([1, 2], dtype=np.int64)
    assert python_literal(int64) == "np.array([1, 2], dtype=np.int64).reshape((2,))"
    assert python_literal(np.array([True])) == "np.array([True], dtype=np.bool_).reshape((1,))"
    empty = np.zeros((2, 0), dtype=np.int64)  # tolist() alone would lose this shape
    assert python_literal(empty) == "np.array([], dtype=np.int64).reshape((2, 0))"
    assert python_literal((slice(1, None, 2), 0)) == "(slice(1, None, 2), 0)"
    assert python_literal((3,)) == "(3,)"
    assert python_literal(float("-inf")) == "float('-inf')"
    assert render_op("torch.cat({xs}, dim={dim})", ["a", "b"], {"dim": -1}) == (
        "torch.cat((a, b), dim=-1)"
    )


# -- the registry ------------------------------------------------------------------------

TINY_MODULE = """
class Tiny:
    name, version, devices, dtypes = "tiny", "0.1", ("cpu",), ("float64",)
    capabilities, ops = frozenset(), {}

    def asarray(self, array, dtype, device, requires_grad): return array
    def to_numpy(self, x): return x
    def vjp(self, fn, primals, cotangents): raise NotImplementedError


def make_tiny(): return Tiny()


tiny = Tiny()
bad_dtypes = Tiny()
bad_dtypes.dtypes = ("float64", "float128")
bad_devices = Tiny()
bad_devices.devices = "cpu"


class Incomplete:
    name = "incomplete"
    ops = {}


class Minimal:
    name, version, ops = "minimal", "0", {}

    def asarray(self, array, dtype, device, requires_grad): return array
    def to_numpy(self, x): return x
    def vjp(self, fn, primals, cotangents): raise NotImplementedError


minimal = Minimal()
"""


@pytest.fixture
def tiny_module(tmp_path, monkeypatch, request):
    """A fresh importable module named after the test, holding small adapters."""
    name = f"tiny_adapters_{request.node.name}"
    (tmp_path / f"{name}.py").write_text(TINY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_builtin_entry_points_resolve():
    assert {"reference", "torch"} <= set(available_adapters())
    assert load_adapter("torch").name == "torch"
    assert load_adapter("torch").version == torch.__version__
    assert load_adapter("reference").name == "reference"


def test_unknown_name_lists_the_registered_adapters():
    with pytest.raises(AdapterError) as error:
        load_adapter("jaxx")
    message = str(error.value)
    assert all(word in message for word in ("'jaxx'", "reference", "torch", "module:attr"))


@pytest.mark.parametrize("attr", ["tiny", "Tiny", "make_tiny"])
def test_module_attr_accepts_an_object_a_class_or_a_factory(tiny_module, attr):
    adapter = load_adapter(f"{tiny_module}:{attr}")
    assert type(adapter.inner).__name__ == "Tiny" and adapter.name == "tiny"


def test_import_error_is_one_line_naming_module_and_cause(tmp_path, monkeypatch):
    (tmp_path / "broken_adapter_mod.py").write_text("raise ImportError('no engine\\nhere')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AdapterError) as error:
        load_adapter("broken_adapter_mod:adapter")
    message = str(error.value)
    assert "\n" not in message
    assert "'broken_adapter_mod'" in message and "ImportError: no engine here" in message


def test_missing_module_and_missing_attribute(tiny_module):
    with pytest.raises(AdapterError, match="ModuleNotFoundError"):
        load_adapter("no_such_module_xyz:adapter")
    with pytest.raises(AdapterError, match="has no attribute 'nope'"):
        load_adapter(f"{tiny_module}:nope")
    with pytest.raises(AdapterError, match="module:attr|package.module:attr"):
        load_adapter(":adapter")


def test_an_object_missing_members_is_rejected_with_their_names(tiny_module):
    with pytest.raises(AdapterError) as error:
        load_adapter(f"{tiny_module}:Incomplete")
    assert "members version, asarray, to_numpy, vjp;" in str(error.value)


@pytest.mark.parametrize(
    ("attr", "complaint"),
    [("bad_dtypes", "'float128'"), ("bad_devices", "devices must be a non-empty sequence")],
)
def test_bad_dtypes_or_devices_are_rejected(tiny_module, attr, complaint):
    with pytest.raises(AdapterError, match=complaint):
        load_adapter(f"{tiny_module}:{attr}")


def test_validate_adapter_returns_an_adapter_and_rejects_other_objects(adapter):
    validated = validate_adapter(adapter)
    assert validated.name == adapter.name and validated.ops is adapter.ops
    with pytest.raises(AdapterError, match="missing protocol members name, version"):
        validate_adapter(object())


def test_importing_the_registry_does_not_import_torch():
    code = "import sys, gradcheck.adapters; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert result.returncode == 0, result.stderr.decode()


def test_a_plain_protocol_object_gets_the_documented_defaults(tiny_module):
    import importlib

    from gradcheck.adapters.base import AdapterBase

    module = importlib.import_module(tiny_module)
    plain = module.minimal  # has the required members only, and subclasses nothing
    adapter = load_adapter(f"{tiny_module}:minimal")
    assert isinstance(adapter, AdapterBase) and not isinstance(plain, AdapterBase)
    assert adapter.spec == f"{tiny_module}:minimal" and not hasattr(plain, "spec")
    assert adapter.conventions == {} and adapter.nondeterminism_tolerance == 0.0
    assert adapter.devices == ("cpu",) and adapter.dtypes == ("float64", "float32")
    assert adapter.capabilities == frozenset() and adapter.op_source == {}
    assert adapter.dtype_of(np.zeros(2, np.float32)) == "float32"
    assert adapter.limitation("exp", "jvp", "float64") == "adapter 'minimal' lacks capability 'jvp'"


def test_loading_never_changes_the_adapter_object():
    from gradcheck.adapters import reference

    before = dict(vars(reference.adapter))
    loaded = load_adapter("reference")
    assert loaded is not reference.adapter and loaded.spec == "reference"
    assert vars(reference.adapter) == before and reference.adapter.spec is None


def test_a_subclass_that_does_not_override_vjp_is_rejected():
    from gradcheck.adapters.base import AdapterBase

    class NoVjp(AdapterBase):
        name, version, ops = "no-vjp", "0", {}

        def asarray(self, array, dtype, device, requires_grad):
            return array

        def to_numpy(self, x):
            return x

    with pytest.raises(AdapterError, match="missing protocol members vjp;"):
        validate_adapter(NoVjp())


@pytest.mark.parametrize("cap", [0, -3, 2.5, "5", True])
def test_max_examples_must_be_none_or_a_positive_int(cap):
    adapter = load_adapter("reference")  # a copy: load_adapter's own
    adapter.max_examples = cap
    with pytest.raises(AdapterError, match=r"max_examples must be None or a positive int"):
        validate_adapter(adapter)
    adapter.max_examples = 7
    assert validate_adapter(adapter).max_examples == 7


def test_torch_dtype_and_device_of_its_tensors():
    adapter = load_adapter("torch")
    x = adapter.asarray(np.zeros(2), "bfloat16", "cpu", False)
    assert adapter.dtype_of(x) == "bfloat16" and adapter.device_of(x) == "cpu"


def test_torch_prepare_does_not_import_dynamo():
    """Setting deterministic_algorithms imports torch._dynamo and _inductor (seconds of
    start-up): prepare() only sets flags that differ from the wanted ones."""
    code = (
        "import sys; from gradcheck.adapters import load_adapter; "
        "load_adapter('torch').prepare(); assert 'torch._dynamo' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# torch-compile compiles every new graph (a second or more on a CPU): one op per catalog
# family, then the kinked ops whose compiled backward may take another branch than the
# eager kernel, not all 141.
COMPILED_OPS = sorted(
    {*{spec.family: op for op, spec in CATALOG.items()}.values(),
     "relu", "abs", "clamp", "maximum", "amax", "std", "norm", "prod", "where"}
)  # fmt: skip


@pytest.mark.parametrize("op", COMPILED_OPS)
@settings(PER_OP, max_examples=1)
@given(data=st.data())
def test_compiled_torch_and_reference_agree_on_values_and_vjps(op, data):
    agrees_with_reference("torch-compile", op, data)


def test_torch_compile_compiles_once_per_graph_structure():
    from gradcheck.adapters.torch_compile import TorchCompileAdapter

    adapter = TorchCompileAdapter("aot_eager")  # a fresh cache, not the shared singleton

    def vjp_of_exp(values, layout="contiguous"):
        x = adapter.asarray_with_layout(values, "float64", "cpu", True, layout)
        ones = adapter.asarray(np.ones(values.shape), "float64", "cpu", False)
        _, (grad,) = adapter.vjp(lambda t: (adapter.ops["exp"](t),), [x], [ones])
        np.testing.assert_allclose(adapter.to_numpy(grad), np.exp(values), rtol=1e-15)

    vjp_of_exp(np.array([[0.5, -1.0], [2.0, 0.0]]))
    vjp_of_exp(np.array([[1.5, 3.0], [-2.0, 0.25]]))  # new values, the same structure
    assert adapter.compiles == 1
    vjp_of_exp(np.array([[1.5, 3.0], [-2.0, 0.25]]), "transposed")  # new strides
    vjp_of_exp(np.array([1.5, 3.0, -2.0]))  # a new shape
    assert adapter.compiles == 3


def test_torch_compile_declares_what_it_does_not_compile():
    adapter = load_adapter("torch-compile")
    assert adapter.capabilities == frozenset()
    for capability in ("higher_order", "jvp", "imperative", "batched"):
        assert "torch.compile" in adapter.limitation("exp", capability, "float64")
    assert adapter.precision_flags()["backend"] == "aot_eager"
    inductor = load_adapter("torch-compile-inductor")
    assert inductor.name == "torch-compile-inductor"
    assert inductor.precision_flags()["backend"] == "inductor"
