"""Linear algebra (torch's and torch.linalg's names), Tensor.matmul, @ and .mT.

Products (matmul, bmm, baddbmm, einsum, outer), parts of matrices (diagonal, trace, tril,
triu), cross, cdist, and the functions of a square matrix that need no decomposition's
gauge (det, slogdet, inv, solve). decompositions.py has cholesky, qr, eigh and svd.
matmul_p takes operands of at least 2 dims; matmul adds and removes torch's unit dims.

Gradients of det, slogdet, inv and solve hold inv(A): they are for invertible A only.
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .dispatch import Dim, Primitive, defview, lift, lift_all, needs_input_grad
from .elementwise import where
from .reductions import norm
from .reductions import sum as _sum
from .rules import linear, unbroadcast
from .shape import squeeze, transpose, unsqueeze
from .tensor import Tensor, zeros

# Top-level names, as torch's; the module itself is torch.linalg's namespace (engine.linalg.inv)
__all__ = """matmul vector_norm bmm baddbmm einsum outer diagonal trace tril triu cdist det slogdet
inverse""".split()


def _mT(x: Tensor) -> Tensor:
    return transpose(x, -1, -2)


def _matrix(x: Tensor) -> Tensor:
    """x[..., None, None]: a scalar per matrix, to scale a batch of matrices."""
    return unsqueeze(unsqueeze(x, -1), -1)


matmul_p = Primitive(
    "matmul",
    np.matmul,
    params=("input", "other"),
    vjp=lambda g, out, x, y: (
        unbroadcast(g @ _mT(y), x.shape) if needs_input_grad(0) else None,
        unbroadcast(_mT(x) @ g, y.shape) if needs_input_grad(1) else None,
    ),
    jvp=lambda ts, out, x, y: ts[0] @ y + x @ ts[1],
)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch.matmul: 1-d operands get a unit dim, added then removed; batches broadcast."""
    out = matmul_p(
        unsqueeze(input, 0) if input.ndim == 1 else input,
        unsqueeze(other, -1) if other.ndim == 1 else other,
    )
    if input.ndim == 1:
        out = squeeze(out, -2)
    return squeeze(out, -1) if other.ndim == 1 else out


def vector_norm(x: Tensor, ord: Any = 2, dim: Dim = None, keepdim: bool = False) -> Tensor:
    """torch.linalg.vector_norm, for ord=2 (as norm)."""
    if ord != 2:
        raise NotImplementedError("only the 2-norm is implemented")
    return norm(x, 2, dim, keepdim)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """torch.bmm: (b, n, m) @ (b, m, p), batches equal (no broadcasting)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm takes two 3-d tensors of one batch: {input.shape}, {mat2.shape}")
    return matmul_p(input, mat2)


def baddbmm(
    input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1
) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2); with beta == 0 input is ignored (torch)."""
    product = bmm(batch1, batch2)
    product = product if alpha == 1 else product * alpha
    if beta == 0:  # not 0 * input: torch propagates no NaN or inf from input then
        return product + zeros(np.broadcast_shapes(input.shape, product.shape), dtype=input.dtype)
    return (input if beta == 1 else input * beta) + product


# -- einsum ------------------------------------------------------------------------------
def _terms(equation: str, n: int) -> tuple[list[str], str]:
    """The operands' subscripts and the result's ("ij,jk->ik" -> (["ij", "jk"], "ik"))."""
    equation = equation.replace(" ", "")
    if "." in equation:
        raise NotImplementedError("einsum: ellipsis is not implemented")
    inputs, arrow, result = equation.partition("->")
    if not arrow:  # implicit mode: the letters seen once, in alphabetical order
        letters = inputs.replace(",", "")
        result = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    terms = inputs.split(",")
    if len(terms) != n:
        raise ValueError(f"einsum(): {equation!r} names {len(terms)} operands, got {n}")
    return terms, result


def _einsum_grad(g: Tensor, xs: Sequence[Tensor], equation: str, k: int) -> Tensor:
    """d <g, einsum(xs)> / d xs[k]: einsum of g with the other operands, onto xs[k]'s
    subscripts. A letter repeated in them (a diagonal, "ii") gets a fresh letter tied to
    it by an identity matrix; a letter only xs[k] has (summed over) gets a ones vector."""
    terms, result = _terms(equation, len(xs))
    operands = [g, *(x for j, x in enumerate(xs) if j != k)]
    subs = [result, *(t for j, t in enumerate(terms) if j != k)]
    fresh = iter(sorted(set(string.ascii_letters) - set("".join(terms))))
    target = ""
    for letter, size in zip(terms[k], xs[k].shape, strict=True):
        if letter in target:
            target += (new := next(fresh))
            operands.append(Tensor(np.eye(size, dtype=g.dtype)))
            subs.append(letter + new)
        else:
            target += letter
    for letter, size in zip(terms[k], xs[k].shape, strict=True):
        if letter not in "".join(subs):
            operands.append(Tensor(np.ones(size, dtype=g.dtype)))
            subs.append(letter)
    return einsum_p(*operands, equation=f"{','.join(subs)}->{target}")


einsum_p = Primitive(
    "einsum",
    lambda *xs, equation: np.einsum(equation, *xs),
    params=None,
    vjp=lambda g, out, *xs, equation: tuple(
        _einsum_grad(g, xs, equation, k) for k in range(len(xs))
    ),
    # Multilinear: the sum over operands of einsum with that operand's tangent in its place.
    jvp=lambda ts, out, *xs, equation: _sum_all(
        [einsum_p(*xs[:k], t, *xs[k + 1 :], equation=equation) for k, t in enumerate(ts)]
    ),
)


def _sum_all(terms: list[Tensor]) -> Tensor:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def einsum(equation: str, *operands: Any) -> Tensor:
    """torch.einsum(equation, *operands) (or a list of operands); no ellipsis."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    _terms(equation, len(operands))
    return einsum_p(*lift_all(operands), equation=equation)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError("outer: both inputs must be 1-d")
    return unsqueeze(input, -1) * unsqueeze(vec2, 0)


# -- parts of matrices -----------------------------------------------------------------
def _diagonal_put(g: np.ndarray, offset: int, dim1: int, dim2: int, shape: tuple) -> np.ndarray:
    """zeros(shape) with g on the diagonal that diagonal(offset, dim1, dim2) reads."""
    positions = np.diagonal(np.arange(math.prod(shape)).reshape(shape), offset, dim1, dim2)
    flat = np.zeros(math.prod(shape), dtype=g.dtype)
    flat[positions.ravel()] = np.broadcast_to(g, positions.shape).ravel()  # all distinct
    return flat.reshape(shape)


def _diagonal(x: np.ndarray, offset: int, dim1: int, dim2: int) -> np.ndarray:
    """np.diagonal as a writable view (numpy's is read-only), like torch's diagonal."""
    y = np.moveaxis(x, (dim1, dim2), (-2, -1))
    y = y[..., :, offset:] if offset >= 0 else y[..., -offset:, :]
    n = max(0, min(y.shape[-2:]))
    strides = y.strides[:-2] + (y.strides[-2] + y.strides[-1],)
    return np.lib.stride_tricks.as_strided(y, y.shape[:-2] + (n,), strides)


diagonal_p = linear(
    "diagonal",
    _diagonal,
    lambda g, out, x, offset, dim1, dim2: (
        diagonal_put_p(g, offset=offset, dim1=dim1, dim2=dim2, shape=x.shape),
    ),
)
defview(diagonal_p)
diagonal_put_p = linear(
    "diagonal_put",
    _diagonal_put,
    lambda g, out, grad, offset, dim1, dim2, shape: (
        diagonal_p(g, offset=offset, dim1=dim1, dim2=dim2),
    ),
)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the (dim1, dim2) matrices, as a new last dim (torch.diagonal)."""
    dim1, dim2 = dim1 % input.ndim, dim2 % input.ndim
    if dim1 == dim2:
        raise RuntimeError("diagonal dimensions cannot be identical")
    return diagonal_p(input, offset=offset, dim1=dim1, dim2=dim2)


def trace(input: Tensor) -> Tensor:
    if input.ndim != 2:
        raise RuntimeError("trace: expected a matrix")
    return _sum(diagonal(input))


def _triangle(input: Tensor, keep: np.ndarray) -> Tensor:
    return where(keep, input, 0)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    rows, cols = input.shape[-2:]
    return _triangle(input, np.tril(np.ones((rows, cols), dtype=bool), diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    rows, cols = input.shape[-2:]
    return _triangle(input, np.triu(np.ones((rows, cols), dtype=bool), diagonal))


def _cross(a: np.ndarray, b: np.ndarray, dim: int) -> np.ndarray:
    """c_i = a_(i+1) b_(i+2) - a_(i+2) b_(i+1) along `dim`: cross(b, a) is exactly
    -cross(a, b), so cross(x, x) and its gradients are exactly 0, as in torch."""
    a, b = np.broadcast_arrays(a, b)
    a1, a2 = np.roll(a, -1, dim), np.roll(a, -2, dim)
    b1, b2 = np.roll(b, -1, dim), np.roll(b, -2, dim)
    return a1 * b2 - a2 * b1


cross_p = Primitive(
    "cross",
    _cross,
    params=("input", "other"),
    vjp=lambda g, out, x, y, dim: (
        unbroadcast(cross_p(y, g, dim=dim), x.shape),
        unbroadcast(cross_p(g, x, dim=dim), y.shape),
    ),
    jvp=lambda ts, out, x, y, dim: cross_p(ts[0], y, dim=dim) + cross_p(x, ts[1], dim=dim),
)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """torch.linalg.cross: size 3 along `dim` in both; the other dims broadcast."""
    if input.ndim != other.ndim or input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3")
    return cross_p(input, other, dim=dim % input.ndim)


def _cdist_weights(out: Tensor, x1: Tensor, x2: Tensor) -> Tensor:
    """d out_ij / d x1_i = (x1_i - x2_j) / out_ij, and 0 where out_ij = 0 (torch). The
    distance is replaced by 1 there before dividing: no 0 / 0 in second derivatives,
    which for cdist(x, x), whose diagonal is 0 whatever x, are then 0 as they should be."""
    zero = out.data == 0
    diff = unsqueeze(x1, -2) - unsqueeze(x2, -3)
    return where(zero[..., None], 0, diff / unsqueeze(where(zero, 1, out), -1))


cdist_p = Primitive(
    "cdist",
    lambda x1, x2: np.sqrt(np.sum((x1[..., :, None, :] - x2[..., None, :, :]) ** 2, axis=-1)),
    params=("x1", "x2"),
    vjp=lambda g, out, x1, x2: (
        _sum(unsqueeze(g, -1) * _cdist_weights(out, x1, x2), -2),
        -_sum(unsqueeze(g, -1) * _cdist_weights(out, x1, x2), -3),
    ),
    jvp=lambda ts, out, x1, x2: _sum(
        _cdist_weights(out, x1, x2) * (unsqueeze(ts[0], -2) - unsqueeze(ts[1], -3)), -1
    ),
)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode: Any = None) -> Tensor:
    """torch.cdist for p=2 (batches equal): out[..., i, j] = |x1[..., i, :] - x2[..., j, :]|,
    its gradient 0 at zero distance like torch's."""
    if p != 2:
        raise NotImplementedError("cdist: only p=2 is implemented")
    return cdist_p(x1, x2)


# -- functions of a square matrix --------------------------------------------------------
inv_p = Primitive(
    "inv",
    np.linalg.inv,
    params=("A",),
    vjp=lambda g, out, x: (-(_mT(out) @ g @ _mT(out)),),
    jvp=lambda ts, out, x: -(out @ ts[0] @ out),
)
det_p = Primitive(
    "det",
    np.linalg.det,
    params=("A",),
    vjp=lambda g, out, x: (_matrix(g * out) * _mT(inv_p(x)),),
    jvp=lambda ts, out, x: out * _sum(_mT(inv_p(x)) * ts[0], (-2, -1)),
)
logabsdet_p = Primitive(
    "logabsdet",
    lambda x: np.linalg.slogdet(x)[1],
    params=("A",),
    vjp=lambda g, out, x: (_matrix(g) * _mT(inv_p(x)),),
    jvp=lambda ts, out, x: _sum(_mT(inv_p(x)) * ts[0], (-2, -1)),
)


class SignLogAbsDet(NamedTuple):
    """What slogdet returns, like torch.return_types.linalg_slogdet."""

    sign: Tensor
    logabsdet: Tensor


def inv(A: Tensor) -> Tensor:
    return inv_p(A)


inverse = inv


def det(A: Tensor) -> Tensor:
    return det_p(A)


def slogdet(A: Tensor) -> SignLogAbsDet:
    """(sign(det A), log|det A|); the sign is a constant (its gradient is 0)."""
    sign = np.linalg.slogdet(A.data.astype(np.float64))[0].astype(A.dtype)  # numpy: no float16
    return SignLogAbsDet(Tensor(sign), logabsdet_p(A))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """X with A X = B, as inv(A) @ B; B is a (batch of) vector(s) when B.ndim == 1 or
    B.shape == A.shape[:-1], torch's rule."""
    if not left:
        raise NotImplementedError("solve: only left=True is implemented")
    if B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1]):
        return squeeze(inv(A) @ unsqueeze(B, -1), -1)
    return inv(A) @ B


Tensor.matmul, Tensor.outer, Tensor.diagonal, Tensor.trace = matmul, outer, diagonal, trace
Tensor.tril, Tensor.triu, Tensor.bmm, Tensor.det, Tensor.inverse = tril, triu, bmm, det, inv
Tensor.mT = property(_mT)
Tensor.__matmul__, Tensor.__rmatmul__ = matmul, lambda x, y: matmul(lift(y, x), x)
