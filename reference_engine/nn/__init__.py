"""Neural-network layers, torch.nn.functional's (top-level functions of the engine, as the
activations are): conv.py (convolutions and pooling), normalization.py (layer, group and
batch norm, normalize), basic.py (linear, embedding, scaled_dot_product_attention)."""

from . import basic, conv, normalization
from .basic import *  # noqa: F403
from .conv import *  # noqa: F403
from .normalization import *  # noqa: F403

__all__ = basic.__all__ + conv.__all__ + normalization.__all__
