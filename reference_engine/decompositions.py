"""Matrix decompositions: cholesky, qr, eigh and svd (torch.linalg's names and results).

Each factor is a primitive of the input matrix: its forward is numpy's, and its VJP and
JVP are the textbook perturbation formulas written in engine ops, which call the other
factors' primitives again, so that create_graph=True gives true second derivatives.

Where they apply:
- cholesky and eigh read the lower triangle only, as torch does; their derivatives hold
  for symmetric perturbations (torch's do too), so differentiate f(A + A.mT), not f(A).
- eigh's eigenvectors need distinct eigenvalues, svd's singular vectors distinct nonzero
  singular values: the formulas divide by their gaps. A factor is only defined up to a
  sign per column (a gauge): compare functions that do not depend on it (V diag V^T).
- qr: reduced, for m >= n with full column rank; the signs are fixed so that diag(R) > 0
  (then Q and R are unique and smooth). torch does not promise that sign.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import linalg
from .dispatch import Primitive
from .elementwise import where
from .linalg import diagonal, inv, tril
from .shape import transpose, unsqueeze
from .tensor import Tensor

__all__: list[str] = []  # torch.linalg's names only: engine.linalg.eigh, like torch


def _mT(x: Tensor) -> Tensor:
    return transpose(x, -1, -2)


def _diag(x: Tensor) -> Tensor:
    return diagonal(x, 0, -2, -1)


def _diag_embed(v: Tensor) -> Tensor:
    """The diagonal matrices of a batch of vectors (..., n) -> (..., n, n)."""
    return unsqueeze(v, -1) * Tensor(np.eye(v.shape[-1], dtype=v.dtype))


def _eye(n: int, like: Tensor) -> Tensor:
    return Tensor(np.eye(n, dtype=like.dtype))


def _inverse_gaps(values: Tensor, square: bool = False) -> Tensor:
    """F[..., i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it, with w = values
    (or values ** 2 when `square`): the coefficients of eigen- and singular vectors'
    derivatives."""
    w = values * values if square else values
    n = w.shape[-1]
    on_diagonal = np.eye(n, dtype=bool)
    gaps = unsqueeze(w, -2) - unsqueeze(w, -1)
    return where(on_diagonal, 0, 1 / where(on_diagonal, 1, gaps))


# -- cholesky: A = L L^T, L lower triangular with a positive diagonal -----------------------
def _phi(x: Tensor) -> Tensor:
    """The lower triangle of x with its diagonal halved: L^-1 dL = phi(L^-1 dA L^-T)."""
    n = x.shape[-1]
    return x * Tensor((np.tril(np.ones((n, n))) - 0.5 * np.eye(n)).astype(x.dtype))


cholesky_p = Primitive(
    "cholesky",
    np.linalg.cholesky,
    params=("input",),
    vjp=lambda g, out, x: (_mT(inv(out)) @ _phi(_mT(out) @ g) @ inv(out),),
    jvp=lambda ts, out, x: out @ _phi(inv(out) @ ts[0] @ _mT(inv(out))),
)


def cholesky(input: Tensor, *, upper: bool = False) -> Tensor:
    """torch.linalg.cholesky; torch's keyword is `input` (its docs say A) as for eigh."""
    out = cholesky_p(input)
    return _mT(out) if upper else out


# -- qr: A = Q R, reduced, diag(R) > 0 -------------------------------------------------------
def _qr(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, r = np.linalg.qr(x)
    signs = np.sign(np.diagonal(r, 0, -2, -1))
    signs = np.where(signs == 0, 1, signs).astype(x.dtype)
    return q * signs[..., None, :], r * signs[..., :, None]


def _qr_vjp(x: Tensor, gq: Tensor | None, gr: Tensor | None) -> Tensor:
    """gA = (gQ + Q N) R^-T, N = D - tril(D - D^T, -1), D = gR R^T - Q^T gQ: the adjoint of
    X = Q^T dA R^-1, dR = (X - C) R, dQ = dA R^-1 - Q (X - C), C = tril(X, -1) - its T."""
    q, r = qr_q_p(x), qr_r_p(x)
    d = (gr @ _mT(r) if gr is not None else 0) - (_mT(q) @ gq if gq is not None else 0)
    n = d - tril(d - _mT(d), -1)
    return ((gq + q @ n) if gq is not None else q @ n) @ _mT(inv(r))


def _qr_jvp(x: Tensor, dx: Tensor) -> tuple[Tensor, Tensor]:
    q, r = qr_q_p(x), qr_r_p(x)
    r_inv = inv(r)
    m = _mT(q) @ dx @ r_inv
    lower = tril(m, -1)
    upper = m - (lower - _mT(lower))  # X - C: upper triangular
    return dx @ r_inv - q @ upper, upper @ r


qr_q_p = Primitive(
    "qr_q",
    lambda x: _qr(x)[0],
    params=("A",),
    vjp=lambda g, out, x: (_qr_vjp(x, g, None),),
    jvp=lambda ts, out, x: _qr_jvp(x, ts[0])[0],
)
qr_r_p = Primitive(
    "qr_r",
    lambda x: _qr(x)[1],
    params=("A",),
    vjp=lambda g, out, x: (_qr_vjp(x, None, g),),
    jvp=lambda ts, out, x: _qr_jvp(x, ts[0])[1],
)


class QRResult(NamedTuple):
    Q: Tensor
    R: Tensor


def qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """The reduced QR with diag(R) > 0 (a valid torch.linalg.qr result: torch's signs vary)."""
    if mode != "reduced":
        raise NotImplementedError("qr: only mode='reduced' is implemented")
    return QRResult(qr_q_p(A), qr_r_p(A))


# -- eigh: A = V diag(w) V^T, w ascending ---------------------------------------------------
def _eigenvalues_vjp(g: Tensor, x: Tensor) -> Tensor:
    v = eigenvectors_p(x)
    return v @ _diag_embed(g) @ _mT(v)


def _eigenvectors_vjp(g: Tensor, v: Tensor, x: Tensor) -> Tensor:
    """dV = V (F o (V^T dA V)), F_ij = 1 / (w_j - w_i), so gA = V (F o (V^T gV)) V^T."""
    return v @ (_inverse_gaps(eigenvalues_p(x)) * (_mT(v) @ g)) @ _mT(v)


eigenvalues_p = Primitive(
    "eigvalsh",
    np.linalg.eigvalsh,
    params=("input",),
    vjp=lambda g, out, x: (_eigenvalues_vjp(g, x),),
    jvp=lambda ts, out, x: _diag(_mT(eigenvectors_p(x)) @ ts[0] @ eigenvectors_p(x)),
)
eigenvectors_p = Primitive(
    "eigh_vectors",
    lambda x: np.linalg.eigh(x)[1],
    params=("input",),
    vjp=lambda g, out, x: (_eigenvectors_vjp(g, out, x),),
    jvp=lambda ts, out, x: out @ (_inverse_gaps(eigenvalues_p(x)) * (_mT(out) @ ts[0] @ out)),
)


class EighResult(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


def eigh(input: Tensor, UPLO: str = "L") -> EighResult:
    if UPLO != "L":
        raise NotImplementedError("eigh: only UPLO='L' is implemented")
    return EighResult(eigenvalues_p(input), eigenvectors_p(input))


def eigvalsh(input: Tensor, UPLO: str = "L") -> Tensor:
    return eigh(input, UPLO).eigenvalues


# -- svd: A = U diag(S) Vh, reduced, S descending --------------------------------------------
def _svd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.linalg.svd(x, full_matrices=False)


def _svd_vjp(x: Tensor, gu: Tensor | None, gs: Tensor | None, gvh: Tensor | None) -> Tensor:
    """gA = U [diag(gS) + (J + J^T) S + S (K + K^T)] V^T + (I - U U^T) gU S^-1 V^T
    + U S^-1 gV^T (I - V V^T), J = F o (U^T gU), K = F o (V^T gV), F_ij = 1/(s_j^2 - s_i^2)
    (Townsend 2016, real case). The last two terms vanish for square A."""
    u, s, v = svd_u_p(x), svdvals_p(x), _mT(svd_vh_p(x))
    m, n = u.shape[-2], v.shape[-2]
    f = _inverse_gaps(s, square=True)
    inner = _diag_embed(gs) if gs is not None else 0
    grad = 0
    if gu is not None:
        j = f * (_mT(u) @ gu)
        inner = inner + (j + _mT(j)) * unsqueeze(s, -2)
        grad = (_eye(m, x) - u @ _mT(u)) @ (gu / unsqueeze(s, -2)) @ _mT(v)
    if gvh is not None:
        gv = _mT(gvh)
        k = f * (_mT(v) @ gv)
        inner = inner + unsqueeze(s, -1) * (k + _mT(k))
        grad = grad + u @ (_mT(gv) / unsqueeze(s, -1)) @ (_eye(n, x) - v @ _mT(v))
    return u @ inner @ _mT(v) + grad


def _svd_jvp(x: Tensor, dx: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """dP = U^T dA V; dS = diag(dP); dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1;
    dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^-1."""
    u, s, v = svd_u_p(x), svdvals_p(x), _mT(svd_vh_p(x))
    m, n = u.shape[-2], v.shape[-2]
    f = _inverse_gaps(s, square=True)
    p = _mT(u) @ dx @ v
    row, col = unsqueeze(s, -2), unsqueeze(s, -1)  # M * row = M S, col * M = S M
    du = u @ (f * (p * row + col * _mT(p))) + (_eye(m, x) - u @ _mT(u)) @ dx @ v / row
    dv = v @ (f * (col * p + _mT(p) * row)) + (_eye(n, x) - v @ _mT(v)) @ _mT(dx) @ u / row
    return du, _diag(p), _mT(dv)


svdvals_p = Primitive(
    "svdvals",
    lambda x: np.linalg.svd(x, compute_uv=False),
    params=("A",),
    vjp=lambda g, out, x: (_svd_vjp(x, None, g, None),),
    jvp=lambda ts, out, x: _svd_jvp(x, ts[0])[1],
)
svd_u_p = Primitive(
    "svd_u",
    lambda x: _svd(x)[0],
    params=("A",),
    vjp=lambda g, out, x: (_svd_vjp(x, g, None, None),),
    jvp=lambda ts, out, x: _svd_jvp(x, ts[0])[0],
)
svd_vh_p = Primitive(
    "svd_vh",
    lambda x: _svd(x)[2],
    params=("A",),
    vjp=lambda g, out, x: (_svd_vjp(x, None, None, g),),
    jvp=lambda ts, out, x: _svd_jvp(x, ts[0])[2],
)


class SVDResult(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


def svd(A: Tensor, full_matrices: bool = True) -> SVDResult:
    """The reduced SVD (torch.linalg.svd(A, full_matrices=False)); full_matrices=True, the
    default in torch, is not implemented."""
    if full_matrices:
        raise NotImplementedError("svd: only full_matrices=False is implemented")
    return SVDResult(svd_u_p(A), svdvals_p(A), svd_vh_p(A))


def svdvals(A: Tensor) -> Tensor:
    return svdvals_p(A)


# torch.linalg's names: engine.linalg.eigh(...) as torch.linalg.eigh(...)
linalg.cholesky, linalg.qr, linalg.eigh, linalg.eigvalsh = cholesky, qr, eigh, eigvalsh
linalg.svd, linalg.svdvals = svd, svdvals
