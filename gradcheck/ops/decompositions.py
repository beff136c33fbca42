"""Functions of a matrix that need it invertible, positive definite or with a spread-out
spectrum: det, slogdet, inv, solve, cholesky, qr, eigh, svd.

No interval says "well-conditioned", so their matrix inputs have a `Structure`: a fresh
leaf drawn with elements in [-1, 1] and mapped (numpy, once, not differentiated) onto
matrices with the property, and condition numbers small enough (<= 4) that float32
results compare at the usual tolerance.

Decompositions are unique only up to a sign per column (a gauge): each op returns a
gauge-invariant function of its factors (eigenvalues, a projector, U Vh, Q and R with
diag(R) > 0). Eigen- and singular vectors are not differentiable where eigenvalues or
singular values meet (their derivatives grow as 1 / gap): a `Kink` there, which the
structures keep generated inputs away from.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from gradcheck.ops.linalg import batched, side
from gradcheck.ops.spec import (
    Domain,
    Draw,
    Interval,
    Kink,
    OpSpec,
    Shape,
    Structure,
    magnitude,
    min_or_inf,
)

# ---- structures: raw elements in [-1, 1] -> matrices with a property -------------------------


def orthonormal(raw: np.ndarray, turn: float = 0.5) -> np.ndarray:
    """Orthonormal columns (..., m, k), k = min(m, n), from any raw (..., m, n): QR's Q
    turned by a fixed rotation, so that even raw = 0 (where hypothesis shrinks to) gives
    dense matrices (unsymmetric ones where U and V turn differently): a missing transpose
    shows on them."""
    k = min(raw.shape[-2:])
    skew = turn * (np.triu(np.ones((k, k)), 1) - np.tril(np.ones((k, k)), -1))
    rotation = np.linalg.solve(np.eye(k) - skew, np.eye(k) + skew)  # Cayley: orthogonal
    return np.linalg.qr(raw)[0] @ rotation


def spread(raw: np.ndarray, low: float, high: float) -> np.ndarray:
    """min(m, n) values per matrix in [low, high], each in its own slot of width
    (high - low) / k, jittered by raw's diagonal: neighbours are >= (high - low) / 2k apart."""
    k = min(raw.shape[-2:])
    slots = np.arange(k) + 0.5 + 0.25 * np.diagonal(raw, 0, -2, -1)
    return low + (high - low) * slots / k


def well_conditioned(raw: np.ndarray) -> np.ndarray:
    """U diag(s) V^T, any shape: singular values spread over [0.5, 2] (condition <= 4)."""
    u, v = orthonormal(raw), orthonormal(np.swapaxes(raw, -1, -2), turn=-1.5)
    return (u * spread(raw, *SINGULAR)[..., None, :]) @ np.swapaxes(v, -1, -2)


def symmetric(low: float, high: float):
    def make(raw: np.ndarray) -> np.ndarray:
        """Q diag(w) Q^T / 2, square: x + x^T has eigenvalues w spread over [low, high]."""
        q = orthonormal(raw)
        return (q * spread(raw, low, high)[..., None, :] / 2) @ np.swapaxes(q, -1, -2)

    return make


SINGULAR = (0.5, 2.0)  # singular values of WELL_CONDITIONED matrices
EIGENVALUES = (-2.0, 2.0)  # of x + x^T, x SPREAD_SPECTRUM: neighbours >= 2 / n apart
SPD_EIGENVALUES = (0.5, 2.0)  # of x + x^T, x POSITIVE_DEFINITE
# |a_ij| <= the largest singular value (eigenvalue / 2 for the symmetric ones)
WELL_CONDITIONED = Structure("well_conditioned", well_conditioned, (-2.0, 2.0))
SPREAD_SPECTRUM = Structure("spread_spectrum", symmetric(*EIGENVALUES), (-1.0, 1.0))
POSITIVE_DEFINITE = Structure("positive_definite", symmetric(*SPD_EIGENVALUES), (-1.0, 1.0))

# ---- shapes ----------------------------------------------------------------------------------


def square(shape: Shape) -> bool:
    return len(shape) >= 2 and shape[-1] == shape[-2] >= 1


def draw_square(draw: Draw) -> Shape:
    n = side(draw)
    return batched(draw, (n, n))


def matrix(shape: Shape) -> bool:
    return len(shape) >= 2 and min(shape[-2:]) >= 1


def draw_matrix(draw: Draw) -> Shape:
    return batched(draw, (side(draw), side(draw)))


def tall(shape: Shape) -> bool:
    return matrix(shape) and shape[-2] >= shape[-1]


def draw_tall(draw: Draw) -> Shape:
    m = side(draw)
    return batched(draw, (m, draw(st.integers(1, m))))


def structured(structure: Structure, fits, draw_first) -> dict:
    """The OpSpec fields of an op whose input 0 is a matrix with `structure`."""
    return {"domains": (Domain(structure=structure),), "first_fits": fits,
            "draw_first": draw_first, "layout": "strided"}  # fmt: skip


# ---- solve ---------------------------------------------------------------------------------


def solve_fits(a: Shape, b: Shape) -> bool:
    """B is A.shape[:-1] (a batch of vectors), (n,) for a single A, or (*batch, n, k)."""
    n = a[-1]
    if b == a[:-1] or (len(a) == 2 and b == (n,)):
        return True
    return len(b) == len(a) and b[:-2] == a[:-2] and b[-2] == n and size_ok(b)


def size_ok(shape: Shape) -> bool:
    return math.prod(shape) <= 64


def draw_solve_partner(draw: Draw, a: Shape) -> Shape:
    if draw(st.booleans()):
        return a[:-1]
    return (*a[:-1], side(draw))


def solve_shape(shapes, attrs) -> Shape:
    a, b = shapes
    vector = len(b) == 1 or (len(b) == len(a) - 1 and b == a[:-1])
    return tuple(np.broadcast_shapes(a[:-1], b)) if vector else b


def solve_bounds(iv, shapes, attrs) -> Interval:
    # |A^-1 b| <= |b| / s_min, s_min >= SINGULAR[0]
    m = math.sqrt(shapes[0][-1]) * magnitude(iv[1]) / SINGULAR[0]
    return -m, m


# ---- kinks ---------------------------------------------------------------------------------


def symmetric_eigenvalues(inputs) -> np.ndarray:
    x = inputs[0]
    return np.linalg.eigvalsh(x + np.swapaxes(x, -1, -2))


def eigenvalue_gap(inputs, attrs) -> float:
    """The smallest gap between eigenvalues of x + x^T (0: repeated)."""
    return min_or_inf(np.diff(symmetric_eigenvalues(inputs), axis=-1))


def top_eigenvalue_gap(inputs, attrs) -> float:
    """The gap below the largest eigenvalue, which its eigenvector's derivative divides by."""
    w = symmetric_eigenvalues(inputs)
    return min_or_inf(w[..., -1] - w[..., -2]) if w.shape[-1] > 1 else math.inf


def singular_gap(inputs, attrs) -> float:
    """The smallest gap between singular values, or to 0 (the kinks of each)."""
    s = np.linalg.svd(inputs[0], compute_uv=False)
    return min(min_or_inf(-np.diff(s, axis=-1)), min_or_inf(s))


def qr_gap(inputs, attrs) -> float:
    """min |R_kk|: where it is 0 (rank deficiency) the sign fix of Q's columns flips."""
    r = np.linalg.qr(inputs[0])[1]
    return min_or_inf(np.abs(np.diagonal(r, 0, -2, -1)))


def spectral_kink(gap, convention: str) -> Kink:
    """Eigen- or singular values meet: no convention, so nothing is compared there."""
    return Kink(gap, convention, ties=True, defined=False, curved=True)


# ---- bounds --------------------------------------------------------------------------------


def n_of(shapes) -> int:
    return shapes[0][-1]


def det_bounds(iv, shapes, attrs) -> Interval:
    # Hadamard: |det A| <= prod of the column norms <= (sqrt(n) max|a_ij|)^n
    m = (math.sqrt(n_of(shapes)) * magnitude(iv[0])) ** n_of(shapes)
    return -m, m


def logabsdet_bounds(iv, shapes, attrs) -> Interval:
    n = n_of(shapes)  # a sum of n logs of singular values in SINGULAR
    return n * math.log(SINGULAR[0]), n * math.log(SINGULAR[1])


def fixed(lo: float, hi: float):
    return lambda iv, shapes, attrs: (lo, hi)


def qr_bounds(iv, shapes, attrs) -> Interval:
    if attrs["factor"] == "Q":
        return -1.0, 1.0
    m = math.sqrt(shapes[0][-2]) * magnitude(iv[0])  # |R_ij| = |q_i . a_j| <= |a_j|
    return -m, m


def qr_shape(shapes, attrs) -> Shape:
    *batch, m, n = shapes[0]
    return (*batch, m, n) if attrs["factor"] == "Q" else (*batch, n, n)


def eigh_bounds(iv, shapes, attrs) -> Interval:
    m = 2 * n_of(shapes) * magnitude(iv[0])  # |w| <= the inf-norm of x + x^T
    return -m, m


def svd_bounds(iv, shapes, attrs) -> Interval:
    return 0.0, math.sqrt(math.prod(shapes[0][-2:])) * magnitude(iv[0])  # <= Frobenius


# ---- the table -------------------------------------------------------------------------------


def decomposition(name, shape, bounds, structure, fits, draw_first, **fields) -> OpSpec:
    fields = {"signature": "(x)", **structured(structure, fits, draw_first), **fields}
    return OpSpec(name, "linalg", shape, bounds, **fields)


def square_op(name, shape, bounds, structure=WELL_CONDITIONED, **fields) -> OpSpec:
    return decomposition(name, shape, bounds, structure, square, draw_square, **fields)


OPS = [
    square_op("det", lambda shapes, a: shapes[0][:-2], det_bounds, note="torch.linalg.det"),
    square_op(
        "slogdet",
        lambda shapes, a: shapes[0][:-2],
        logabsdet_bounds,
        note="torch.linalg.slogdet(x).logabsdet",
    ),
    square_op("inv", lambda shapes, a: shapes[0], fixed(-2.0, 2.0), note="torch.linalg.inv"),
    square_op(
        "solve",
        solve_shape,
        solve_bounds,
        arity=(2, 2),
        domains=(Domain(structure=WELL_CONDITIONED), Domain()),
        partner_fits=solve_fits,
        draw_partner=draw_solve_partner,
        distinct_inputs=True,  # solve(A, A) = I: see OpSpec.distinct_inputs
        signature="(x, y)",
        note="torch.linalg.solve(A=x, B=y); y a (batch of) vector(s) or matrices",
    ),
    square_op(
        "cholesky",
        lambda shapes, a: shapes[0],
        fixed(-math.sqrt(SPD_EIGENVALUES[1]), math.sqrt(SPD_EIGENVALUES[1])),
        structure=POSITIVE_DEFINITE,
        note="torch.linalg.cholesky(x + x.mT): symmetric, as torch's own gradcheck does",
    ),
    decomposition(
        "qr",
        qr_shape,
        qr_bounds,
        WELL_CONDITIONED,
        tall,
        draw_tall,
        draw_attrs=lambda draw, shapes, iv: {"factor": draw(st.sampled_from(["Q", "R"]))},
        kink=Kink(
            qr_gap,
            "qr: not differentiable where x is rank-deficient (a 0 on diag(R)); not compared",
            defined=False,
            curved=True,
        ),
        signature='(x, factor="Q"|"R")',
        note="torch.linalg.qr(x) (m >= n), signs fixed so that diag(R) > 0",
    ),
    square_op(
        "eigh",
        lambda shapes, a: shapes[0][:-1],
        eigh_bounds,
        structure=SPREAD_SPECTRUM,
        kink=spectral_kink(
            eigenvalue_gap, "eigh: not differentiable at repeated eigenvalues; not compared"
        ),
        note="torch.linalg.eigh(x + x.mT).eigenvalues",
    ),
    square_op(
        "eigh_projector",
        lambda shapes, a: shapes[0],
        fixed(-1.0, 1.0),
        structure=SPREAD_SPECTRUM,
        kink=spectral_kink(
            top_eigenvalue_gap,
            "eigh_projector: not differentiable where the top eigenvalue repeats; not compared",
        ),
        note="v v^T, v the top eigenvector of torch.linalg.eigh(x + x.mT)",
    ),
    decomposition(
        "svd",
        lambda shapes, a: (*shapes[0][:-2], min(shapes[0][-2:])),
        svd_bounds,
        WELL_CONDITIONED,
        matrix,
        draw_matrix,
        kink=spectral_kink(
            singular_gap,
            "svd: not differentiable at repeated or zero singular values; not compared",
        ),
        note="torch.linalg.svd(x, full_matrices=False).S",
    ),
    decomposition(
        "svd_uv",
        lambda shapes, a: shapes[0],
        fixed(-1.0, 1.0),
        WELL_CONDITIONED,
        matrix,
        draw_matrix,
        kink=spectral_kink(
            singular_gap,
            "svd_uv: engines divide by gaps between singular values and by them; "
            "not compared where they repeat or vanish",
        ),
        note="U @ Vh of torch.linalg.svd(x, full_matrices=False) (the polar factor)",
    ),
]
