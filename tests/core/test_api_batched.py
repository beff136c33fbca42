"""TorchAdapter.batched_vjp: the general many-cotangent reverse pass the batched check uses."""

from __future__ import annotations

import numpy as np
import pytest

from gradcheck.adapters import load_adapter
from gradcheck.adapters.base import AdapterBase
from gradcheck.errors import Unsupported

torch = pytest.importorskip("torch")


def test_batched_vjp_equals_one_vjp_per_cotangent_with_several_primals_and_outputs() -> None:
    adapter = load_adapter("torch")
    assert "batched" in adapter.capabilities
    rng = np.random.default_rng(0)
    x, y, unused = (rng.standard_normal(s) for s in ((3, 2), (2,), (4,)))

    def fn(x, y, unused):  # noqa: ANN001, ANN202
        return (torch.tanh(x * y), (x**2).sum(0) + y)

    primals = [adapter.asarray(a, "float64", "cpu", True) for a in (x, y, unused)]
    batch = 3
    cotangents = [rng.standard_normal((batch, 3, 2)), rng.standard_normal((batch, 2))]
    outputs, grads = adapter.batched_vjp(
        fn, primals, [adapter.asarray(c, "float64", "cpu", False) for c in cotangents]
    )
    assert [tuple(o.shape) for o in outputs] == [(3, 2), (2,)]
    assert [tuple(g.shape) for g in grads] == [(batch, 3, 2), (batch, 2), (batch, 4)]
    for b in range(batch):
        one = [adapter.asarray(c[b], "float64", "cpu", False) for c in cotangents]
        _, expected = adapter.vjp(fn, primals, one)
        for got, want in zip(grads, expected, strict=True):
            np.testing.assert_allclose(adapter.to_numpy(got[b]), adapter.to_numpy(want))
    assert not np.any(adapter.to_numpy(grads[2]))  # an unused primal gets zeros, not None


def test_batched_vjp_defaults_to_unsupported() -> None:
    class Minimal(AdapterBase):
        name = "minimal"

    with pytest.raises(Unsupported, match="capability 'batched'"):
        Minimal().batched_vjp(lambda x: (x,), [], [])
