"""A small numpy autograd engine with a PyTorch-like API: the oracle of gradcheck.

Python floats default to float32, as in torch; pass dtype=float64 for reference work.
float16 ops compute in float32 and round once per op, as torch does. Kink and tie
conventions are listed in `conventions.CONVENTIONS`; `conventions.using` follows
another engine's declared choices.

Modules: tensor.py (Tensor, the reverse sweep), dispatch.py (Primitive: a numpy forward
with a VJP and a JVP), rules.py (helpers for common rule shapes), one module per op
family (elementwise.py, reductions.py, shape.py, scatter.py, layout.py, linalg.py,
decompositions.py, inplace.py, the nn/ package of layers), autograd.py (grad, vjp, jvp).

Adding a primitive: write it in its family's module, or a new family in a new module
(say nn.py) and add one `from .nn import *` line below. A primitive is a numpy forward
plus a VJP and a JVP written in engine ops; its name is the public function when the
signature is torch's as it stands, else a small function parses torch's arguments:

    import numpy as np

    from .dispatch import Primitive, defjvp, defvjp
    from .elementwise import sigmoid, where
    from .rules import elementwise
    from .tensor import Tensor

    __all__ = ["silu", "leaky_relu"]

    # one line when the rule has a common shape (rules.py): the VJP of one element
    silu = elementwise("silu", lambda x: x / (1 + np.exp(-x)),
                       lambda g, out, x: g * (sigmoid(x) * (1 + x - out)))

    # or any primitive: forward(*arrays, **attrs); rules get (g or tangents, out, *inputs)
    leaky_relu_p = Primitive("leaky_relu", lambda x, slope: np.where(x > 0, x, slope * x))
    defvjp(leaky_relu_p, lambda g, out, x, slope: (where(x > 0, g, g * slope),))
    defjvp(leaky_relu_p, lambda ts, out, x, slope: where(x > 0, ts[0], ts[0] * slope))

    def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
        return leaky_relu_p(input, slope=negative_slope)

    Tensor.silu = silu  # methods, if torch has them, listed explicitly

A primitive's inputs are tensors (python numbers are lifted to the inputs' dtype); all
else (dims, shapes, indices) are keyword attributes, passed to the forward and the rules
alike. tests/engine/test_op_properties.py checks a catalog op's VJP against finite
differences, its JVP against its VJP, and its second derivative, once the op is in
gradcheck's catalog; `dispatch.overridden` swaps a primitive's rules (tests/bug_zoo.py).

Views, versions and in-place ops, as torch's. view/reshape (when it can), transpose,
permute, mT, basic indexing (x[1:3], x[:, 0]), diagonal, (un)squeeze and expand return
views: their .data is a numpy view of the base's, `x._base` is the base, and base and
views share one version counter (`x._version`), bumped by every in-place op (add_, mul_,
relu_, copy_, x[i] = v, x *= 2, ...: inplace.py). An in-place op refuses a leaf that
requires grad; otherwise the tensor takes the op's history, and through a view the base
takes "base with the view region replaced" (torch's CopySlices) while its views re-read
it. A Node records the versions of its inputs and output, and a VJP that reads one
modified since raises torch's "modified by an inplace operation" error.
"""

# The public names: no __all__, so that a new family needs one line (and no list to edit).
from . import autograd, conventions, decompositions, linalg  # noqa: F401
from .activations import *  # noqa: F403
from .autograd import grad, jvp, vjp  # noqa: F401
from .conventions import CONVENTIONS  # noqa: F401
from .dispatch import Primitive  # noqa: F401
from .elementwise import *  # noqa: F403
from .inplace import *  # noqa: F403
from .layout import *  # noqa: F403
from .linalg import *  # noqa: F403
from .losses import *  # noqa: F403
from .nn import *  # noqa: F403
from .pointwise import *  # noqa: F403
from .reductions import *  # noqa: F403
from .scatter import *  # noqa: F403
from .shape import *  # noqa: F403
from .tensor import (  # noqa: F401
    DEFAULT_DTYPE,
    Tensor,
    bool_,
    enable_grad,
    float16,
    float32,
    float64,
    int64,
    is_grad_enabled,
    no_grad,
    ones,
    ones_like,
    set_grad_enabled,
    tensor,
    zeros,
    zeros_like,
)

bool = bool_  # torch.bool
