"""The engine's layers (reference_engine/nn/): the convolution primitives are each other's
adjoints, and torch's spellings of the layers give torch's values and gradients
(float64), including the arguments the catalog does not draw."""

import numpy as np
import pytest

import reference_engine as E
from reference_engine.nn.conv import conv_p, conv_transpose_p, conv_weight_p, out_size

torch = pytest.importorskip("torch")
F = torch.nn.functional
RNG = np.random.default_rng(7)


def t(values, requires_grad=False):
    return E.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# (x shape, weight shape, stride, padding, dilation, groups)
GEOMETRIES = [
    ((2, 4, 5), (6, 2, 3), (2,), (1,), (2,), 2),
    ((1, 2, 4, 5), (2, 1, 2, 3), (1, 2), (1, 0), (2, 1), 2),
    ((1, 3, 3, 3), (2, 3, 3, 1), (3, 1), (2, 0), (1, 1), 1),
    ((2, 2, 4, 4), (4, 2, 2, 2), (2, 2), (0, 1), (3, 1), 1),
]


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "dilation", "groups"), GEOMETRIES
)
def test_the_convolution_primitives_are_each_others_adjoints(
    x_shape, w_shape, stride, padding, dilation, groups
):
    geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    size = x_shape[2:]
    out = out_size(size, w_shape[2:], stride, padding, dilation)
    x, w = t(RNG.standard_normal(x_shape)), t(RNG.standard_normal(w_shape))
    y = t(RNG.standard_normal((x_shape[0], w_shape[0], *out)))
    conv = np.vdot(conv_p(x, w, **geometry).data, y.data)
    transposed = np.vdot(x.data, conv_transpose_p(y, w, **geometry, size=size).data)
    weight = np.vdot(w.data, conv_weight_p(x, y, **geometry, kernel=w_shape[2:]).data)
    np.testing.assert_allclose([transposed, weight], [conv, conv], rtol=1e-13)


def both(fn, *arrays, grad=True):
    """fn(torch, *inputs) and fn(engine, *inputs): outputs, and gradients for a random
    cotangent of the first output."""
    results = []
    for lib in (torch, E):
        leaves = [lib.tensor(a, dtype=lib.float64, requires_grad=grad) for a in arrays]
        out = fn(lib, *leaves)
        outs = out if isinstance(out, tuple) else (out,)
        values = [np.asarray(o.detach().numpy() if lib is torch else o.data) for o in outs]
        if grad:
            seed = np.linspace(-1.0, 2.0, outs[0].numel()).reshape(tuple(outs[0].shape))
            grads = (torch.autograd.grad if lib is torch else E.grad)(
                outs[0], leaves, lib.tensor(seed, dtype=lib.float64)
            )
            values += [np.asarray(g.numpy() if lib is torch else g.data) for g in grads]
        results.append(values)
    for got, want in zip(results[1], results[0], strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def nn(lib):
    return lib.nn.functional if lib is torch else lib


X4 = RNG.standard_normal((2, 2, 4, 5))
CASES = {
    "conv2d padding='valid'": (
        lambda lib, x, w: nn(lib).conv2d(x, w, padding="valid", stride=(2, 1)),
        X4, RNG.standard_normal((3, 2, 2, 2))),
    "conv1d unbatched": (
        lambda lib, x, w, b: nn(lib).conv1d(x, w, b, padding=2, dilation=2),
        RNG.standard_normal((2, 5)), RNG.standard_normal((3, 2, 2)), RNG.standard_normal(3)),
    "conv_transpose2d output_padding >= stride": (
        lambda lib, x, w: nn(lib).conv_transpose2d(
            x, w, stride=1, padding=1, output_padding=(2, 1), groups=2, dilation=3),
        X4, RNG.standard_normal((2, 2, 2, 3))),
    "avg_pool2d divisor_override": (
        lambda lib, x: nn(lib).avg_pool2d(x, (2, 3), padding=1, divisor_override=5), X4),
    "max_pool2d return_indices": (
        lambda lib, x: nn(lib).max_pool2d(x[0], 3, 2, 1, return_indices=True)[0] * 1.0, X4),
    "embedding padding_idx": (
        lambda lib, w: nn(lib).embedding(lib.tensor([[0, 2], [2, 3]]), w, padding_idx=-2),
        RNG.standard_normal((4, 3))),
    "layer_norm": (
        lambda lib, x: nn(lib).layer_norm(x, (4, 5), eps=1e-3), X4),
    "group_norm": (
        lambda lib, x, w: nn(lib).group_norm(x, 1, weight=w), X4, RNG.standard_normal(2)),
    "batch_norm": (
        lambda lib, x, b: nn(lib).batch_norm(x, None, None, bias=b, training=True, eps=0.1),
        X4, RNG.standard_normal(2)),
    "normalize": (lambda lib, x: nn(lib).normalize(x, dim=-1, eps=0.5), X4 / 4),
    "attention float mask, scale": (
        lambda lib, q, k, v: nn(lib).scaled_dot_product_attention(
            q, k, v, attn_mask=lib.tensor(np.tril(np.ones((4, 3))) - 1.0, dtype=lib.float64),
            scale=0.7),
        X4[0], RNG.standard_normal((2, 3, 5)), RNG.standard_normal((2, 3, 2))),
    "attention causal": (
        lambda lib, q, k, v: nn(lib).scaled_dot_product_attention(q, k, v, is_causal=True),
        X4[0], RNG.standard_normal((2, 6, 5)), RNG.standard_normal((2, 6, 2))),
    "linear 1-d input": (
        lambda lib, x, w: nn(lib).linear(x, w), X4[0, 0, 0], RNG.standard_normal((3, 5))),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_torch(name):
    fn, *inputs = CASES[name]
    both(fn, *inputs)


def test_max_pool2d_returns_torch_indices():
    x = np.array([[[[3.0, 3.0, 1.0], [3.0, 2.0, 3.0]]]])
    want = F.max_pool2d(torch.tensor(x), 2, 1, return_indices=True)[1]
    np.testing.assert_array_equal(E.max_pool2d(t(x), 2, 1, return_indices=True)[1].data, want)


def test_batch_norm_running_statistics_as_torch():
    x = RNG.standard_normal((3, 2, 4))
    stats = {lib: (lib.tensor(np.zeros(2)), lib.tensor(np.ones(2))) for lib in (torch, E)}
    for lib in (torch, E):
        nn(lib).batch_norm(lib.tensor(x), *stats[lib], training=True, momentum=0.3)
    for got, want in zip(stats[E], stats[torch], strict=True):
        np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-12)
    both(lambda lib, x: nn(lib).batch_norm(x, *stats[lib], training=False), x)


@pytest.mark.parametrize(
    "call",
    [
        lambda lib: nn(lib).batch_norm(lib.tensor(np.ones((1, 3))), None, None, training=True),
        lambda lib: nn(lib).group_norm(lib.tensor(np.ones((1, 2, 1))), 2),
    ],
)
def test_one_value_per_channel_is_refused_as_torch_refuses_it(call):
    for lib in (torch, E):
        with pytest.raises(ValueError, match="more than 1 value per channel"):
            call(lib)
