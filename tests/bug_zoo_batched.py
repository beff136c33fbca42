"""Adapters with the batched members (capability "batched") as loops over the reference's
own vjp and jvp: `looped` is correct; the others break one member the way batching rules
break. Loaded as `tests.bug_zoo_batched:<name>`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradcheck.adapters.reference import ReferenceAdapter


class Looped(ReferenceAdapter):
    """Each batched member as one vjp (or jvp) call per batch entry: correct."""

    name = "batched-loop"
    capabilities = ReferenceAdapter.capabilities | {"batched"}

    def entry(self, x: Any, b: int, requires_grad: bool = False) -> Any:
        """Entry b of a batched tensor, as a tensor of its own."""
        return self.asarray(self.to_numpy(x)[b], self.dtype_of(x), "cpu", requires_grad)

    def stack(self, tensors: Sequence[Any]) -> Any:
        arrays = np.stack([self.to_numpy(t) for t in tensors])
        return self.asarray(arrays, self.dtype_of(tensors[0]), "cpu", False)

    def size(self, batch: Sequence[Any]) -> int:
        return self.to_numpy(batch[0]).shape[0]

    def batched_vjp(self, fn: Callable, primals: Sequence, cotangents: Sequence) -> tuple:
        runs = [
            self.vjp(fn, primals, [self.entry(c, self.cotangent_entry(b)) for c in cotangents])
            for b in range(self.size(cotangents))
        ]
        return runs[0][0], tuple(self.stack(g) for g in zip(*(r[1] for r in runs), strict=True))

    def cotangent_entry(self, b: int) -> int:
        return b

    def vmap_vjp(self, fn: Callable, primals: Sequence, cotangents: Sequence) -> tuple:
        runs = [
            self.vjp(
                fn,
                [self.entry(p, self.primal_entry(b), True) for p in primals],
                [self.entry(c, b) for c in cotangents],
            )
            for b in range(self.size(primals))
        ]
        outputs = tuple(self.stack(o) for o in zip(*(r[0] for r in runs), strict=True))
        return outputs, tuple(self.stack(g) for g in zip(*(r[1] for r in runs), strict=True))

    def primal_entry(self, b: int) -> int:
        return b

    def batched_jvp(self, fn: Callable, primals: Sequence, tangents: Sequence) -> tuple:
        runs = [
            self.jvp(fn, primals, [self.entry(t, b) for t in tangents])
            for b in range(self.size(tangents))
        ]
        return runs[0][0], tuple(self.stack(t) for t in zip(*(r[1] for r in runs), strict=True))


class FirstCotangentOnly(Looped):
    """batched_vjp reads the first cotangent for every entry (a batch dim broadcast away)."""

    def cotangent_entry(self, b: int) -> int:
        return 0


class FirstSampleOnly(Looped):
    """vmap_vjp differentiates at the first sample for every entry (the primals' batch
    dim treated as unbatched), with each entry's own cotangent."""

    def primal_entry(self, b: int) -> int:
        return 0


looped = Looped()
first_cotangent_only = FirstCotangentOnly()
first_sample_only = FirstSampleOnly()
