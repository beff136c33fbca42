"""The primitive machinery: the documented way to add a primitive works, modules import
each other without cycles, rules can be swapped and come back, float16 rounds once."""

import ast
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

import reference_engine as E
from reference_engine.dispatch import Primitive, overridden

PACKAGE = Path(E.__file__).parent


def documented_example() -> str:
    """The indented code of the "Adding a primitive" paragraph of the package docstring."""
    block = E.__doc__.split("Adding a primitive", 1)[1].split("\n\n", 1)[1]
    code = re.match(r"((?:    .*\n|\n)+)", block).group(1)
    return textwrap.dedent(code)


def test_the_documented_way_to_add_a_primitive_works():
    namespace = {"__name__": "reference_engine._example", "__package__": "reference_engine"}
    exec(compile(documented_example(), "example", "exec"), namespace)
    silu, leaky_relu = namespace["silu"], namespace["leaky_relu"]
    try:
        x = E.tensor([-1.5, 0.5, 2.0], dtype=E.float64, requires_grad=True)
        sig = 1 / (1 + np.exp(-x.data))
        (g,) = E.grad(x.silu().sum(), x)  # silu' = sigmoid (1 + x (1 - sigmoid))
        np.testing.assert_allclose(g.data, sig * (1 + x.data * (1 - sig)), rtol=1e-15)
        (g,) = E.grad(leaky_relu(x, negative_slope=0.1).sum(), x)
        np.testing.assert_array_equal(g.data, [0.1, 1.0, 1.0])
        _, tangent = E.jvp(silu, x.detach(), E.ones_like(x))
        np.testing.assert_allclose(tangent.data, sig * (1 + x.data * (1 - sig)), rtol=1e-15)
    finally:
        del E.Tensor.silu


def imports_of(path: Path) -> set[str]:
    """The reference_engine modules a module imports (relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_modules_import_each_other_without_cycles():
    graph = {p.stem: imports_of(p) for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    done: set[str] = set()

    def visit(module: str, path: tuple) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module not in done:
            for imported in graph.get(module, ()):
                visit(imported, (*path, module))
            done.add(module)

    for module in graph:
        visit(module, ())


def test_modules_stay_small():
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 350, path.name


def test_public_primitives_have_both_rules_and_bind_as_methods():
    primitives = [v for v in vars(E).values() if isinstance(v, Primitive)]
    assert {"exp", "relu", "add", "maximum"} <= {p.name for p in primitives}
    assert all(p.vjp is not None and p.jvp is not None for p in primitives)
    x = E.tensor([1.0, 2.0])
    np.testing.assert_array_equal(x.exp().data, E.exp(x).data)
    np.testing.assert_array_equal(x.add(1.0).data, [2.0, 3.0])


def test_overridden_swaps_rules_and_restores_them_on_errors():
    x = E.tensor([1.0, 2.0], dtype=E.float64, requires_grad=True)
    real = E.exp.vjp
    with pytest.raises(ZeroDivisionError), overridden(E.exp, vjp=lambda g, out, x: (g * 0,)):
        (g,) = E.grad(E.exp(x).sum(), x)
        np.testing.assert_array_equal(g.data, [0.0, 0.0])
        1 / 0  # noqa: B018
    assert E.exp.vjp is real
    (g,) = E.grad(E.exp(x).sum(), x)
    np.testing.assert_allclose(g.data, np.exp([1.0, 2.0]), rtol=1e-15)


def test_a_node_keeps_the_vjp_it_was_recorded_with():
    x = E.tensor([1.0], dtype=E.float64, requires_grad=True)
    with overridden(E.exp, vjp=lambda g, out, x: (g * 0,)):
        y = E.exp(x)
    np.testing.assert_array_equal(E.grad(y.sum(), x)[0].data, [0.0])


@pytest.mark.parametrize(
    ("op", "values", "expected"),
    [
        (E.norm, [300.0, 400.0], 500.0),  # 300 ** 2 overflows float16
        (E.mean, [60000.0, 60000.0], 60000.0),  # so does their sum
        (E.std, [-300.0, 300.0], 424.25),  # float16(300 * sqrt(2))
        (lambda x: x.var() / 1000, [-100.0, 100.0], 20.0),
    ],
)
def test_float16_ops_compute_in_float32_and_round_once(op, values, expected):
    x = E.tensor(np.array(values, dtype=np.float16), requires_grad=True)
    out = op(x)
    assert out.dtype == np.float16 and out.item() == expected
    (g,) = E.grad(out, x)
    assert g.dtype == np.float16 and np.all(np.isfinite(g.data))


def test_float16_norm_second_derivative_stays_finite():
    """d2 |x| / dx2 = 0 away from 0; float16 (2 * 2^-9) ** -2 would overflow."""
    x = E.tensor(np.array(2.0**-9, dtype=np.float16), requires_grad=True)
    (g,) = E.grad(E.norm(x), x, create_graph=True)
    (h,) = E.grad(g, x)
    assert g.item() == 1.0 and h.item() == 0.0


def test_float16_norm_passes_the_higher_order_oracle_where_it_overflowed():
    """The graph a thorough float16 run shrank to: norm(2^-9), before norm was a primitive."""
    from gradcheck.adapters import load_adapter
    from gradcheck.checks import run_check
    from gradcheck.graph import Graph, Leaf, Node

    graph = Graph(
        leaves=(Leaf(np.array(2.0**-9)),),
        nodes=(Node("norm", (0,), {"dim": None, "keepdim": False}),),
        outputs=(1,),
        cotangents=(np.array(0.7739233746429086),),
        tangents=(np.array(1.4739233746429088),),
    )
    run_check("higher_order", graph, load_adapter("reference"), dtype="float16")


def test_gelu_keeps_its_digits_in_the_negative_tail():
    # Phi(-6) = 9.865876450377e-10 (standard normal tables); x (1 + erf(x / sqrt 2)) / 2
    # loses 7 of its digits there, and the oracles take the reference as the truth.
    phi, density = 9.865876450377e-10, 6.075882849823286e-09  # Phi(-6), phi(-6)
    x = E.tensor([-6.0], dtype=E.float64, requires_grad=True)
    y = E.gelu(x)
    np.testing.assert_allclose(y.data, [-6.0 * phi], rtol=1e-12)
    (g,) = E.grad(y.sum(), x)  # Phi(x) + x phi(x)
    np.testing.assert_allclose(g.data, [phi - 6.0 * density], rtol=1e-12)
