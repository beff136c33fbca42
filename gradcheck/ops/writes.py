"""Copies and writes through views: `clone`, and `setitem` (x with x[index] = y, which
engines compute by writing into a clone of x through the view out[index]: torch records
that write as CopySlices, the way every in-place write into a view reaches its base's
gradient)."""

from __future__ import annotations

from hypothesis import strategies as st

from gradcheck.ops.spec import OpSpec, same_bounds, same_shape

# ---- setitem: value's shape fits x[index] for a basic index drawn after it ---------------


def index_plan(x, value) -> list[int | None] | None:
    """A basic index for `setitem` whose x[index] `value` broadcasts to: per leading dim
    of x, the length of a slice (value's dim there; a 1 may broadcast over a longer one)
    or None for an int; the remaining dims of x are taken whole (value's there: equal, or
    1). Value's dims are matched with x's in order; None when no such index exists."""
    for k in range(len(x), 0, -1):  # index as many dims as possible
        rest = len(x) - k
        head, tail = value[: len(value) - rest], value[len(value) - rest :]
        if len(value) < rest or any(v not in (1, n) for v, n in zip(tail, x[k:], strict=True)):
            continue
        plan: list[int | None] = []
        matched = 0  # value's dims given a slice so far
        for n in x[:k]:
            if matched < len(head) and head[matched] <= n:
                plan.append(head[matched])
                matched += 1
            elif n >= 1:
                plan.append(None)  # an int index drops the dim
            else:
                break
        if len(plan) == k and matched == len(head):
            return plan
    return None


def draw_setitem_partner(draw, x) -> tuple[int, ...]:
    """A value shape for x[index] = value: leading dims of x dropped (ints) or sliced, the
    rest kept; some dims 1 (broadcast)."""
    k = draw(st.integers(1, len(x)))
    head = [draw(st.integers(0, n)) for n in x[:k] if not (n and draw(st.booleans()))]
    tail = [1 if draw(st.integers(0, 3)) == 0 else n for n in x[k:]]
    return (*head, *tail)


def draw_slice(draw, n: int, length: int) -> slice:
    """A slice of exactly `length` elements of a dim of size n (steps 1 and 2)."""
    if length == 0:
        start = draw(st.integers(0, n))
        return slice(start, start)
    step = 2 if length >= 2 and 2 * length - 1 <= n and draw(st.booleans()) else 1
    span = (length - 1) * step + 1
    start = draw(st.integers(0, n - span))
    stop = start + span
    if draw(st.booleans()):  # negative bounds, or an open end, as often as positive ones
        start, stop = start - n, (None if stop == n else stop - n)
    return slice(start, stop, None if step == 1 and draw(st.booleans()) else step)


def draw_setitem(draw, shapes, intervals) -> dict:
    x, value = shapes
    index = []
    for n, length in zip(x, index_plan(x, value), strict=False):
        if length is None:
            index.append(draw(st.integers(-n, n - 1)))
        else:  # value's 1 broadcasts over a longer slice now and then
            wider = length == 1 and n > 1 and draw(st.booleans())
            index.append(draw_slice(draw, n, draw(st.integers(1, n)) if wider else length))
    return {"index": tuple(index)}


# ---- the table ---------------------------------------------------------------------------

OPS = [
    OpSpec("clone", "shape", same_shape, same_bounds, note="torch.clone(x): a copy, in the graph"),
    OpSpec(
        "setitem",
        "indexing",
        same_shape,
        same_bounds,
        draw_attrs=draw_setitem,
        min_ndim=1,
        arity=(2, 2),
        partner_fits=lambda x, value: index_plan(x, value) is not None,
        draw_partner=draw_setitem_partner,
        distinct_inputs=True,  # setitem(x, x) mostly writes x's values onto themselves
        signature="(x, y, index=tuple of slice|int)",
        note="x with x[index] = y (basic indexing; y broadcasts to x[index]): written into "
        "a clone of x through a view",
    ),
]
