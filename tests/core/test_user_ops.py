"""User ops (gradcheck.Op): declaring, registering, generating, checking, repro scripts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gradcheck
from gradcheck import repro
from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.errors import GradcheckFailure, Inconclusive, Unsupported
from gradcheck.graph import Graph, Node
from gradcheck.ops import CATALOG, Domain, OpSpec, register, spec_of, unregister, user_ops
from gradcheck.ops.spec import Kink
from gradcheck.strategies import graphs

TORCH = load_adapter("torch")
REFERENCE = load_adapter("reference")


def cube(x: torch.Tensor) -> torch.Tensor:
    return x * x * x


class WrongCube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad * 3.3 * x * x  # 3x^2 is right


def cube_reference(x: np.ndarray) -> np.ndarray:
    return x**3


def make_cube(name: str = "my_cube", **options) -> OpSpec:
    return gradcheck.Op(name, cube, bounds=(-1.0, 1.0), domains=Domain(-1.0, 1.0), **options)


@pytest.fixture(autouse=True)
def registry():
    """Each test forgets the user ops it registered."""
    before = set(user_ops())
    yield
    for name in set(user_ops()) - before:
        unregister(name)


def test_op_is_an_opspec_with_defaults():
    op = make_cube(reference=cube_reference)
    assert isinstance(op, OpSpec)
    assert (op.family, op.arity, op.signature, op.lacks) == ("user", (1, 1), "(x)", frozenset())
    assert op.fn is cube and op.reference is cube_reference
    assert op.source == f"{__name__}:cube"
    assert op.shape([(2, 3)], {}) == (2, 3) and op.bounds([(0, 0.5)], [(2,)], {}) == (-1, 1)
    two = gradcheck.Op("pair", torch.add, arity=2, attrs={"alpha": st.just(2.0)})
    assert two.partner_fits((2, 3), (2, 3)) and not two.partner_fits((2, 3), (3,))
    assert two.signature == "(x, y, alpha=...)"
    assert two.bounds([(0, 1), (-3, 2)], [(1,), (1,)], {}) == (-3, 2)  # the hull


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"name": "exp"}, ValueError, "'exp' is a catalog op"),
        ({"name": "two words"}, ValueError, "name="),
        ({"fn": 3}, TypeError, "fn=3 must be callable"),
        ({"arity": 0}, ValueError, "arity=0"),
        ({"arity": (2, 1)}, ValueError, "arity=(2, 1)"),
        ({"min_ndim": -1}, ValueError, "min_ndim=-1"),
        ({"bounds": (1.0, 0.0)}, ValueError, "bounds=(1.0, 0.0)"),
        ({"attrs": {"k": 1}}, TypeError, "hypothesis strategy"),
        ({"partner_fits": lambda a, b: True}, ValueError, "partner_fits and draw_partner"),
        ({"lacks": ("gpu",)}, ValueError, "lacks=('gpu',)"),
        ({"domains": [(0, 1)]}, TypeError, "domains="),
        ({"tolerance": {"float8": 2.0}}, ValueError, "tolerance="),
        ({"samples": [("not", "a", "pair")]}, ValueError, "samples"),
    ],
)
def test_op_rejects_bad_arguments_in_one_line(kwargs, error, text):
    arguments = {"name": "my_op", "fn": cube, **kwargs}
    with pytest.raises(error, match=None) as raised:
        gradcheck.Op(arguments.pop("name"), arguments.pop("fn"), **arguments)
    assert text in str(raised.value) and "\n" not in str(raised.value)


def test_source_of_functions_methods_and_lambdas():
    assert gradcheck.Op("a", WrongCube.apply).source == f"{__name__}:WrongCube.apply"
    assert gradcheck.Op("b", lambda x: x).source is None

    def local(x):
        return x

    assert gradcheck.Op("c", local).source is None


def test_register_is_idempotent_and_refuses_a_second_op_under_one_name():
    op = register(make_cube())
    assert register(op) is op and spec_of("my_cube") is op and user_ops()["my_cube"] is op
    with pytest.raises(ValueError, match="already registered for .*:cube.*WrongCube.apply"):
        register(gradcheck.Op("my_cube", WrongCube.apply))
    assert register(CATALOG["exp"]) is CATALOG["exp"]  # a catalog op: nothing to do
    with pytest.raises(ValueError, match="'mul_' is a catalog op .or an in-place form of one."):
        register(gradcheck.Op("mul_", WrongCube.apply))
    unregister("my_cube")
    with pytest.raises(KeyError, match="neither a catalog op nor a registered user op"):
        spec_of("my_cube")


CUBE = make_cube()  # one object: registering it again (each example) does nothing


@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data())
def test_graphs_compose_user_ops_with_catalog_ops(data):
    graph = data.draw(graphs(ops=[CUBE, "add", "sum"], max_nodes=4))
    assert {node.op for node in graph.nodes} <= {"my_cube", "add", "sum"}
    assert "my_cube" in user_ops()
    graph.evaluate(TORCH, [TORCH.asarray(leaf.values, "float64", "cpu", False)
                           for leaf in graph.leaves])  # fmt: skip


def test_graphs_draw_user_ops_among_many_catalog_ops():
    seen: list[bool] = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True)
    @given(graphs(ops=[CUBE, *list(CATALOG)[:30]], max_nodes=3))
    def draw(graph):
        seen.append(any(n.op == "my_cube" for n in graph.nodes))

    draw()
    assert sum(seen) >= len(seen) / 3  # one op of 31, yet in most graphs


def test_graphs_reject_unknown_ops():
    with pytest.raises(ValueError, match="unknown: \\['nope'\\]"):
        graphs(ops=["nope"])


def one_node(op: str, x: np.ndarray) -> Graph:
    rng = np.random.default_rng(0)
    return Graph([x], [Node(op, [0], {})], [1], [rng.uniform(-1, 1, x.shape)],
                 [rng.uniform(-1, 1, x.shape)])  # fmt: skip


X = np.array([[0.3, -0.7, 0.55], [0.9, -0.2, 0.1]])
ALL = ("forward", "vjp", "finite_difference", "adjoint", "higher_order", "invariants")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_op_with_a_reference_passes_every_check(dtype):
    register(make_cube(reference=cube_reference))
    for check in ALL:
        try:
            run_check(check, one_node("my_cube", X), TORCH, dtype=dtype)
        except Unsupported as reason:  # float64 only: differences, and those of gradients
            assert check in ("finite_difference", "higher_order") and dtype == "float32"
            if check == "higher_order":  # the reference has no second derivatives of user ops
                assert "differentiates user op my_cube by differences" in str(reason)


def test_without_a_reference_forward_and_vjp_are_unsupported_and_the_rest_run():
    register(make_cube())
    for check in ("forward", "vjp"):
        with pytest.raises(Unsupported, match="my_cube has no numpy reference"):
            run_check(check, one_node("my_cube", X), TORCH)
    for check in ("finite_difference", "adjoint", "higher_order", "invariants"):
        run_check(check, one_node("my_cube", X), TORCH)


@pytest.mark.parametrize("reference", [cube_reference, None])
def test_a_wrong_backward_fails_naming_the_op(reference):
    register(gradcheck.Op("wrong_cube", WrongCube.apply, bounds=(-1, 1), reference=reference))
    graph = Graph(
        [X], [Node("wrong_cube", [0], {}), Node("sum", [1], {"dim": None, "keepdim": False})],
        [2], [np.array(0.8)], [np.full(X.shape, 0.5)],
    )  # fmt: skip
    checks = ("vjp", "finite_difference") if reference else ("finite_difference",)
    for check in checks:
        with pytest.raises(GradcheckFailure, match="at op 'wrong_cube \\(node 0\\)'"):
            run_check(check, graph, TORCH)


def test_lacks_makes_checks_of_that_capability_unsupported():
    register(make_cube(lacks=("jvp",)))
    with pytest.raises(Unsupported, match="user op 'my_cube' lacks 'jvp'"):
        run_check("adjoint", one_node("my_cube", X), TORCH)


def test_numerical_reference_is_inconclusive_across_a_kink():
    register(gradcheck.Op("my_abs", torch.abs, reference=np.abs, bounds=(0, 2)))
    with pytest.raises(Inconclusive, match="numerical reference"):
        run_check("vjp", one_node("my_abs", np.array([1e-7, 0.5])), TORCH)


class RowNorm(torch.autograd.Function):
    """(x - mean) / sqrt(var + eps) over the last dim, its backward as examples/custom_ops
    writes it: rstd (g - mean(g) - xhat mean(g xhat))."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        centred = x - x.mean(-1, keepdim=True)
        rstd = torch.rsqrt((centred * centred).mean(-1, keepdim=True) + 1e-5)
        ctx.save_for_backward(centred * rstd, rstd)
        return centred * rstd

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        xhat, rstd = ctx.saved_tensors
        return rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))


def row_norm_reference(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt((centred * centred).mean(-1, keepdims=True) + 1e-5)


def equal_row_gap(inputs: list, attrs: dict) -> float:
    """How far x's rows are from equal values (examples/custom_ops declares it so)."""
    return float(np.min(np.max(np.abs(inputs[0] - inputs[0].mean(-1, keepdims=True)), -1)))


def test_float32_gradient_of_a_row_near_equal_values_is_not_a_failure():
    """A false positive of the example project's layer norm, float32: the row (0.9009,
    0.9187) is 1% from equal values. Its gradient's terms (about |g| / spread) cancel to
    a result 45x smaller, which keeps float32's rounding of x - mean (eps |x| / spread
    relative): -5.21074 against -5.21117, beyond a tolerance of 3.2e-4 that ignored it."""
    kink = Kink(equal_row_gap, "steep where a row's values are equal", ties=True, curved=True)
    register(gradcheck.Op("row_norm", RowNorm.apply, reference=row_norm_reference, kink=kink))
    x = np.array(
        [[-1.963593602180481, -1.9990333318710327], [0.9008594751358032, 0.9186931252479553]]
    )
    u = np.array(
        [[1.9880411722899671, -0.5977807545284475], [-1.3159142399173036, -0.4333008021843887]]
    )
    graph = Graph([x], [Node("row_norm", [0], {})], [1], [u], [np.ones_like(x)])
    run_check("vjp", graph, TORCH, dtype="float32")


def test_repro_imports_and_calls_the_users_function():
    register(gradcheck.Op("wrong_cube", WrongCube.apply, bounds=(-1, 1)))
    text = repro.script(one_node("wrong_cube", X), TORCH)
    assert "from tests.core.test_user_ops import WrongCube\n" in text
    assert "v1 = WrongCube.apply(v0)" in text
    assert "import gradcheck" not in text and "from gradcheck" not in text
    namespace: dict = {}
    exec(compile(text, "repro", "exec"), namespace)  # runs: prints outputs and gradients


def test_repro_of_a_lambda_says_it_cannot_import_it():
    register(gradcheck.Op("lam", lambda x: x * 2, bounds=(-4, 4)))
    text = repro.script(one_node("lam", X), TORCH)
    assert "lam: its fn is not importable" in text and "ops['lam'](v0)" in text
    assert "load_adapter('torch')" in text
