"""Every false positive the suite ever reported on a correct engine, with its exact example
(or, for an overflow, a minimal one).

Each graph made a correct engine (torch 2.13 CPU, and mostly the reference too) fail a
check before its fix; now the check passes or says Inconclusive (proves nothing), never
fails. The classes: rounding of terms that cancel, kinks inside a difference stencil,
second derivatives near std's kink and of saturating ops in float16, gradients near a
normalization's equal values in float32, sums an op forms internally that overflow
float16 (cross_entropy's label smoothing, kl_div's batchmean), adjoints near float16's
range limit, and layouts torch refuses to `view`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.conventions import run_conventions
from gradcheck.errors import Inconclusive, Unsupported
from gradcheck.graph import Graph, Leaf, Node
from gradcheck.strategies import graphs
from gradcheck.values import noise

torch = pytest.importorskip("torch")

STD = {"dim": None, "keepdim": False}
ATTENTION = {"attn_mask": None, "is_causal": False, "scale": None}
GROUP_NORM = {"num_groups": 1, "eps": 1e-05}
LAYER_NORM = {"normalized_shape": (2, 2), "eps": 1e-05}


def saturating_hvp(op: str, leaf: list[float]) -> tuple[str, str, Graph]:
    """higher_order in float16 on one unary op at `leaf`, with the drawn cotangent and
    tangent of the examples that failed."""
    cotangent = np.array([0.7739233746429086, -1.5784605611722595])
    tangent = np.array([1.4739233746429088, -1.2784605611722593])
    graph = Graph([np.array(leaf)], [Node(op, [0], {})], [1], [cotangent], [tangent])
    return "higher_order", "float16", graph


def saturated_log_softmax() -> tuple[str, str, Graph]:
    """vjp in float32 of log_softmax over 1031 values, one dominant (softmax 0.97 there),
    with the generator's kind of cotangent: alternating signs, magnitudes 0.5..1.5 plus
    noise, here centred so that their sum cancels."""
    n = 1031
    k = np.arange(n)
    pattern = np.where(k % 2, -1.0, 1.0) * (0.5 + (k * 0.6180339887) % 1.0)
    cotangent = pattern + np.random.default_rng([7, 0]).uniform(-1.0, 1.0, n)
    x = np.zeros(n)
    x[n // 2] = 10.0
    node = Node("log_softmax", [0], {"dim": 0})
    return "vjp", "float32", Graph([x], [node], [1], [cotangent - cotangent.mean()])


def div_by_a_small_scalar() -> tuple[str, str, Graph]:
    """inplace in bfloat16 of x / y for 18 values x up to 40 and a scalar y = 0.19, with the
    drawn cotangent of the example that failed (the thorough profile)."""
    x = np.array([16.0, 0.007907530165271664, 0.045623210451102056, 2.5, 16.0, 4.0,
                  -39.01236582917457, 2.5, 2.5, 19.67912685944907, 2.5, -8.0, -16.0, 4.0,
                  40.0, -11.82593573002095, -40.0, -40.0])  # fmt: skip
    g = np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055,
                  -2.321046695042942, 1.598676433200545, 0.23534121105544314,
                  1.4214754837343597, -0.3672447989320038, 1.531521892530846,
                  -0.19216105072446354, 1.312046995243065, -2.292896875359704,
                  1.6312164175751387, -1.4672707024890719, 1.6117867346598893,
                  -1.419198589294882, 2.114901663899774, -0.9236553674018178])  # fmt: skip
    y = np.array(0.19324936804521564)
    node = Node("div", [0, 1], {})
    return "inplace", "bfloat16", Graph([x.reshape(2, 3, 3), y], [node], [2], [g.reshape(2, 3, 3)])


def tiny_layer_norm() -> Graph:
    """layer_norm of linear(x, x): x x^T for x = (0.00137, 0.00113), products 1e-6 apart."""
    x = np.array([[0.0013653840697809107], [0.0011338568304634271]])
    nodes = [Node("linear", [0, 1], {}), Node("layer_norm", [2], LAYER_NORM)]
    cotangent = np.array([[0.7739233746429086, -1.5784605611722595],
                          [-0.18198497472761055, -2.321046695042942]])  # fmt: skip
    tangents = [np.array([[1.1971633922735911], [-1.4073656449823582]]),
                np.array([[0.6097961964558913], [-1.834122662801622]])]  # fmt: skip
    return Graph([x, x], nodes, [3], [cotangent], tangents)


def wide_batch_norm() -> tuple[str, str, Graph]:
    """higher_order in float16 of batch_norm over 2 channels of values up to 964, weighted."""
    x = np.array([-964.4366813072573, 16.04, 760.1016043614762, 435.5266068502529, -3.97,
                  -525.3432325961321, -216.93840601652013, 300.05]).reshape(2, 2, 2)  # fmt: skip
    weight = np.array([0.011417620014142725, 0.001151158774197225])
    cotangent = np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055,
                          -2.321046695042942, 1.598676433200545, 0.23534121105544314,
                          1.4214754837343597, -0.3672447989320038]).reshape(2, 2, 2)  # fmt: skip
    tangents = [np.array([1.1971633922735911, -1.4073656449823582, 1.670442861690428,
                          -1.4092264732889566, 0.8983960813693306, -2.2457399146338393,
                          0.29754581386843104, 0.4676628704112684]).reshape(2, 2, 2),
                np.array([0.6097961964558913, -1.834122662801622])]  # fmt: skip
    node = Node("batch_norm", [0, 1], {"eps": 1e-05})
    return "higher_order", "float16", Graph([x, weight], [node], [2], [cotangent], tangents)


def nearly_equal_group() -> tuple[str, str, Graph]:
    """forward in float32 of group_norm (weight, bias), group_norm of 2 groups (weighted by
    that bias), layer_norm: the second's group 1 is 1.81 +- 0.002."""
    x = np.array([-0.025196645119279125, 0.05876697052176198, -0.2771633347194383,
                  1.8645977885489755, -0.7526741919580582, -0.3905223903997818,
                  0.039980288291026234, -0.3432034545233549]).reshape(1, 2, 2, 2)  # fmt: skip
    weight = np.array([0.011365384069780911, 0.0011338568304634271])
    bias = np.array([-0.002991404934749758, 1.8118547853037412])
    nodes = [
        Node("group_norm", [0, 1, 2], GROUP_NORM),
        Node("group_norm", [3, 2], {"num_groups": 2, "eps": 1e-05}),
        Node("layer_norm", [4], {"normalized_shape": (2, 2, 2), "eps": 1e-05}),
    ]
    cotangent = np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055,
                          -2.321046695042942, 1.598676433200545, 0.23534121105544314,
                          1.4214754837343597, -0.3672447989320038]).reshape(1, 2, 2, 2)  # fmt: skip
    return "forward", "float32", Graph([x, weight, bias], nodes, [5], [cotangent])


def sin_of_square(x: float, dtype: str) -> tuple[str, str, Graph]:
    """vjp of sin(x^2) at `dtype`, with the drawn cotangent of the example that failed."""
    nodes = [Node("square", [0], {}), Node("sin", [1], {})]
    return "vjp", dtype, Graph([np.array(x)], nodes, [2], [np.array(0.7739233746429086)])


def broadcast_sums_cotangents() -> tuple[str, str, Graph]:
    """vjp in float32 of a scalar added to 4095 values: the scalar's gradient sums 4095
    generated cotangents (`values.noise`, seed 7), which cancel to 0.55."""
    rng = np.random.default_rng(7)
    values, scalar = rng.uniform(-2.0, 2.0, 4095), rng.uniform(-2.0, 2.0, ())
    cotangent, tangents = noise((4095,), 0, 7), [noise((4095,), 1, 7), noise((), 2, 7)]
    graph = Graph([values, scalar], [Node("add", [0, 1], {})], [2], [cotangent], tangents)
    return "vjp", "float32", graph


CASES = {
    # <u, F(x)> sums terms of about 0.61 that cancel to 0.0025: the estimate's rounding
    # is eps times those terms, not eps times the result (found on the reference too).
    "broadcast_to_cancelling_cotangents": (
        "finite_difference",
        "float64",
        Graph(
            [np.array(0.5)],
            [Node("broadcast_to", [0], {"size": (2,)})],
            [1],
            [np.array([0.6135787967666899, -0.611115053872969])],
            [np.array(0.6260230153735773)],
        ),
    ),
    # Values one ulp apart: std's kink (zero spread) sits inside the stencil, and the
    # symmetric differences read |t| as slope 0 (torch: -5.11 against -3.30).
    "std_one_ulp_spread": (
        "finite_difference",
        "float64",
        Graph(
            [np.array([-2.0, -2.0, -1.9999999999999998, -2.0])],
            [Node("std", [0], {**STD, "correction": 1})],
            [1],
            [np.array(0.9)],
            [np.array([0.3, -1.2, 0.8, 0.5])],
        ),
    ),
    # pow(2, 2) - pow(2, 2) is exactly 0 everywhere; torch sums four gradient terms to
    # 1.3e-16 (tolerance was 3.9e-26): the analytic value's rounding is that of its terms.
    "pow_minus_itself": (
        "finite_difference",
        "float64",
        Graph(
            [np.array(2.0)],
            [Node("pow", [0, 0]), Node("pow", [0, 0]), Node("sub", [1, 2])],
            [3],
            [np.array(0.7)],
            [np.array(0.3)],
        ),
    ),
    # std of two close values is |x0 - x1| / 2, linear: its HVP is 0, but torch's double
    # backward cancels terms of size |u| |v|^2 |x| / spread^2 (4.5e-13 against -5.7e-14).
    "std_hvp_close_values_float64": (
        "higher_order",
        "float64",
        Graph(
            [np.array([1.358817487605047, 1.35869128177652])],
            [Node("std", [0], {**STD, "correction": 1})],
            [1],
            [np.array(-0.3969012909299803)],
            [np.array([-1.1707960079799098, -0.8902753677378102])],
        ),
    ),
    "std_hvp_close_values_float32": (
        "higher_order",
        "float32",
        Graph(
            [np.array([1.4144769730904754, 1.3875865511463283])],
            [Node("std", [0], {**STD, "correction": 0})],
            [1],
            [np.array(-1.1893310869733327)],
            [np.array([-1.2749531675065064, -0.9311705033258505])],
        ),
    ),
    # gelu(-4): engines compute x (1 + erf(x / sqrt 2)) / 2, whose 1 + erf cancels to
    # 6e-5: the result rounds by eps |x|, not eps |result| (CI, torch and the reference).
    "gelu_negative_tail": (
        "finite_difference",
        "float64",
        Graph(
            [np.array(-4.0)],
            [Node("gelu", [0])],
            [1],
            [np.array(0.7739233746429086)],
            [np.array(1.4739233746429088)],
        ),
    ),
    "gelu_far_negative_tail": (
        "finite_difference",
        "float64",
        Graph(
            [np.array(-7.5)],
            [Node("gelu", [0])],
            [1],
            [np.array(0.7739233746429086)],
            [np.array(1.4739233746429088)],
        ),
    ),
    # the same take_along_dim finding, met by the inplace check in an indexing graph
    "inplace_take_along_dim_flat_transposed": (
        "inplace",
        "float64",
        Graph(
            leaves=(
                Leaf(
                    np.array(
                        [
                            0.5478467492858172,
                            0.06128860402829822,
                            0.009757935446613101,
                            -1.9338894578858836,
                            -0.0012401781740726538,
                            1.6510223091108869,
                            0.42654310306871945,
                            0.9179862439359936,
                            0.17449996586169148,
                            -0.018472731391301424,
                            1.2634142164861286,
                            -1.9890459993194076,
                            1.4296171063502774,
                            -1.8656576987781426,
                            0.9186217857197763,
                            0.019223890609161465,
                        ],
                        dtype=np.float64,
                    ).reshape((4, 1, 4)),
                    layout="transposed",
                ),
            ),
            nodes=(
                Node(
                    "scatter_add",
                    (0, 0),
                    {
                        "dim": 0,
                        "index": np.array(
                            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.int64
                        ).reshape((4, 1, 4)),
                    },
                ),
                Node("getitem", (1,), {"index": (slice(None, None, None),)}),
                Node("getitem", (2,), {"index": (slice(None, None, None),)}),
                Node("getitem", (3,), {"index": (slice(None, None, None),)}),
                Node("getitem", (4,), {"index": (slice(None, None, None),)}),
                Node(
                    "take_along_dim",
                    (5,),
                    {"indices": np.array([], dtype=np.int64).reshape((0,)), "dim": None},
                ),
            ),
            outputs=(6,),
            cotangents=(np.array([], dtype=np.float64).reshape((0,)),),
            tangents=(
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                        1.2986764332005447,
                        -0.46465878894455703,
                        1.12147548373436,
                        -0.06724479893200486,
                        1.2315218925308462,
                        0.10783894927553717,
                        2.012046995243066,
                        -1.9928968753597043,
                        1.331216417575138,
                        -2.167270702489073,
                        1.3117867346598886,
                        -2.1191985892948813,
                    ],
                    dtype=np.float64,
                ).reshape((4, 1, 4)),
            ),
        ),
    ),
    # torch's take_along_dim without dim raises for a transposed input (a torch finding,
    # docs/findings.md): the template flattens a contiguous copy
    "take_along_dim_flat_transposed": (
        "adjoint",
        "float32",
        Graph(
            leaves=(
                Leaf(
                    np.array(
                        [
                            0.483759441472685,
                            -0.9208531449445188,
                            0.10058260800593964,
                            -1.9338894578858836,
                        ],
                        dtype=np.float64,
                    ).reshape((2, 2)),
                    layout="transposed",
                ),
            ),
            nodes=(
                Node(
                    "take_along_dim",
                    (0,),
                    {"indices": np.array([], dtype=np.int64).reshape((0,)), "dim": None},
                ),
            ),
            outputs=(1,),
            cotangents=(np.array([], dtype=np.float64).reshape((0,)),),
            tangents=(
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                    ],
                    dtype=np.float64,
                ).reshape((2, 2)),
            ),
        ),
    ),
    # inputs of 8 to 10: cross_entropy's log_softmax rounds by eps |x| (absolute_rounding),
    # not eps |result|
    "cross_entropy_saturated_tail": (
        "finite_difference",
        "float64",
        Graph(
            leaves=(
                Leaf(
                    np.array(
                        [
                            8.0,
                            -4.0,
                            -2.5,
                            2.8966460790290034,
                            -8.0,
                            -7.6343062218525,
                            -2.5,
                            9.68108310090511,
                            9.94992548985958,
                            0.27831321606461407,
                            2.6372483493102337,
                            9.978781578756074,
                        ],
                        dtype=np.float64,
                    ).reshape((4, 3))
                ),
            ),
            nodes=(
                Node(
                    "cross_entropy",
                    (0,),
                    {
                        "target": np.array([0, 2, 2, 2], dtype=np.int64).reshape((4,)),
                        "ignore_index": 2,
                        "reduction": "mean",
                        "label_smoothing": 0.0,
                    },
                ),
            ),
            outputs=(1,),
            cotangents=(np.array([0.7739233746429086], dtype=np.float64).reshape(()),),
            tangents=(
                np.array(
                    [
                        1.2236432494005136,
                        0.08289340395187073,
                        0.7243872028392679,
                        -0.15680307182551245,
                        0.2957988588209708,
                        -1.4435170455548492,
                        1.5636091198408837,
                        -0.7078396481616791,
                        1.2434592849461195,
                        -1.7071876718138626,
                        1.8873661043496148,
                        -0.922087249261444,
                    ],
                    dtype=np.float64,
                ).reshape((4, 3)),
            ),
        ),
    ),
    # logsumexp of (56, 69) in float32: softmax's 1 is off by eps |x| = 7.6e-6, and so is
    # the HVP (second derivatives of absolute_rounding ops)
    "logsumexp_float32_hvp_of_wide_inputs": (
        "higher_order",
        "float32",
        Graph(
            leaves=(
                Leaf(
                    np.array([56.395901226701085, 69.2512428701501], dtype=np.float64).reshape((2,))
                ),
            ),
            nodes=(Node("logsumexp", (0,), {"dim": 0, "keepdim": False}),),
            outputs=(1,),
            cotangents=(np.array([0.7739233746429086], dtype=np.float64).reshape(()),),
            tangents=(
                np.array([1.4739233746429088, -1.2784605611722593], dtype=np.float64).reshape((2,)),
            ),
        ),
    ),
    # a float32 prod of 48 small values is 1.3e-37: torch's double backward gave -inf
    # (values near the underflow limit are inconclusive)
    "prod_float32_near_underflow": (
        "higher_order",
        "float32",
        Graph(
            leaves=(
                Leaf(
                    np.array(
                        [
                            0.30131571210719943,
                            0.34072015137417705,
                            -1.0098582473403717,
                            0.005345846360285714,
                            0.6891945262405994,
                            -0.0015070525377823528,
                            0.2345987066877957,
                            0.5048924341647965,
                            0.09597498122393033,
                            0.2642012150992967,
                            0.6948778190673708,
                            0.0014395183473148501,
                            -0.016998124522130564,
                            -1.0261117343279784,
                            0.001888059381047931,
                            -0.7135576346743702,
                            0.7989936291697506,
                            0.09121468454800175,
                            -0.4406338408177535,
                            0.7333915856185727,
                            0.012895654677119162,
                            -0.8265767917009594,
                            0.3753737123259868,
                            -0.6604517202607088,
                            -0.021845392746601706,
                            -0.8003584690754377,
                            1.0938618587362643,
                            0.01964659212983784,
                            0.4081923658575284,
                            0.331010407789196,
                            0.769325896478342,
                            -0.025071361649043805,
                            -0.20162805812184248,
                            -0.03257299911520074,
                            0.04072359710906411,
                            0.24540470347972523,
                            0.01824447064757866,
                            0.8568732355678006,
                            0.9548957351037495,
                            -0.6835330416571468,
                            0.002236429798096164,
                            -0.3918873396329273,
                            0.2074600664393329,
                            -0.8787060848553749,
                            0.0011084794555341932,
                            0.4233198690233268,
                            -0.6002532942265646,
                            -0.8151772266657513,
                        ],
                        dtype=np.float64,
                    ).reshape((3, 4, 4, 1))
                ),
            ),
            nodes=(Node("prod", (0,), {"dim": None, "keepdim": False}),),
            outputs=(1,),
            cotangents=(np.array([0.7739233746429086], dtype=np.float64).reshape(()),),
            tangents=(
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                        1.2986764332005447,
                        -0.46465878894455703,
                        1.12147548373436,
                        -0.06724479893200486,
                        1.2315218925308462,
                        0.10783894927553717,
                        2.012046995243066,
                        -1.9928968753597043,
                        1.331216417575138,
                        -2.167270702489073,
                        1.3117867346598886,
                        -2.1191985892948813,
                        1.8149016638997748,
                        -0.623655367401817,
                        0.9240355776747688,
                        -1.0972713429046848,
                        -0.3826808837090736,
                        -1.9301472097008714,
                        1.1379965807872623,
                        -1.1204027169515003,
                        1.263585951762507,
                        -0.8834946089762348,
                        2.2633035777784225,
                        0.07475298265246089,
                        0.876035652561391,
                        -0.8220671197643679,
                        1.1179131221418794,
                        -1.581210801741794,
                        0.2472806484448229,
                        -0.15214494671183587,
                        1.2638642607514534,
                        -1.2107058533820891,
                        1.4208943108635774,
                        -0.28828191320200114,
                        1.5533786025124998,
                        -1.5877351658818588,
                        1.0644192094595235,
                        -0.8956547545481162,
                        1.3460275857993929,
                        -1.0996390630857351,
                        1.176733503856323,
                        -0.23098078749041462,
                        0.08387866726676463,
                        -1.0012231795279192,
                    ],
                    dtype=np.float64,
                ).reshape((3, 4, 4, 1)),
            ),
        ),
    ),
    # Found by the reference's own thorough run: its float16 VJP of silu took 1 - sigmoid(8),
    # which keeps no correct digit there, and the second derivative came out 45% off; torch
    # computes it the same way. The reference now takes sigmoid(-x); the tolerance allows
    # eps max(|x|, 1) for saturating derivatives (OpSpec.derivative_rounding).
    "silu_second_derivative_cancels_in_float16": saturating_hvp("silu", [793.9621397941507, 8.0]),
    # tanh''(4) = -2 tanh (1 - tanh^2) from a float16 tanh: 27% off, in torch and in the
    # reference alike (0.0054 expected, 0.0039 computed, tolerance 0.0014 before).
    "tanh_second_derivative_saturates_in_float16": saturating_hvp("tanh", [793.96, 4.0]),
    # eps = 1e-12 is 0 in float16: normalize of a zero slice (exact zeros of a convolution's
    # padding) is 0 / 0 = NaN there, in torch too, where float64 gives 0. A distance to a
    # kink below the dtype's smallest normal number is not resolved in that dtype
    # (found by the reference's thorough run).
    "normalize_eps_underflows_in_float16": (
        "forward",
        "float16",
        Graph(
            [
                np.array([0.0013653840697809107, 0.0011338568304634271]).reshape((2, 1, 1)),
                np.array(
                    [
                        0.06230492867970952,
                        -0.9208531449445188,
                        -0.493352183002272,
                        -0.0010210332172399604,
                        -0.676577008433151,
                        -0.0012908238809874197,
                        0.25622087805702926,
                        0.9179862439359936,
                    ]  # fmt: skip
                ).reshape((2, 1, 2, 2)),
            ],
            [
                Node(
                    "conv_transpose2d",
                    [0, 1],
                    {
                        "stride": (1, 2),
                        "padding": (0, 0),
                        "output_padding": (0, 0),
                        "groups": 1,
                        "dilation": (2, 1),
                    },
                ),  # fmt: skip
                Node(
                    "conv2d",
                    [2, 1],
                    {"stride": (2, 1), "padding": (1, 0), "dilation": (2, 1), "groups": 1},
                ),  # fmt: skip
                Node("normalize", [3], {"p": 2.0, "dim": -3, "eps": 1e-12}),
            ],
            [4],
            [
                np.array(
                    [
                        0.7739233746429086,
                        -1.5784605611722595,
                        -0.18198497472761055,
                        -2.321046695042942,
                    ]
                ).reshape((2, 2, 1))
            ],  # fmt: skip
            [
                np.array([1.4739233746429088, -1.2784605611722593]).reshape((2, 1, 1)),
                np.array(
                    [
                        0.8439233746429089,
                        -1.6484605611722594,
                        -0.11198497472761004,
                        -2.391046695042942,
                        1.6686764332005457,
                        0.16534121105544286,
                        1.49147548373436,
                        -0.4372447989320041,
                    ]  # fmt: skip
                ).reshape((2, 1, 2, 2)),
            ],
        ),
    ),
    # Column 1 is (-2.49, -2.48, -2.47): 0.3% from equal values. The gradient's terms,
    # about |u| / spread, cancel; the float32 rounding of x - mean (eps |x| / spread
    # relative) stays: 49.2786 against 49.2851, beyond a tolerance of 0.0053 that ignored
    # it (found by the reference's thorough run).
    "batch_norm_float32_column_near_equal_values": (
        "vjp",
        "float32",
        Graph(
            [
                np.array(
                    [
                        -4.044922973685782,
                        -2.49,
                        0.052491666221591265,
                        -2.48,
                        2.8613316100050508,
                        -2.47,
                    ]
                ).reshape((3, 2))
            ],
            [Node("batch_norm", [0], {"eps": 1e-05})],
            [1],
            [
                np.array(
                    [
                        0.7739233746429086,
                        -1.5784605611722595,
                        -0.18198497472761055,
                        -2.321046695042942,
                        1.598676433200545,
                        0.23534121105544314,
                    ]
                ).reshape((3, 2))
            ],
            [
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                        1.2986764332005447,
                        -0.46465878894455703,
                    ]
                ).reshape((3, 2))
            ],
        ),
    ),
    # Label smoothing sums -log p over the classes at the input's dtype: 300 logits in
    # [-250, 250] sum to 75,000, beyond float16's 65,504, and torch (the reference too)
    # returns inf for a loss of 475 (docs/findings.md). The reference's thorough run drew
    # 275 such logits; sums within 16x of the range limit are inconclusive now.
    "cross_entropy_label_smoothing_sum_overflows_float16": (
        "forward",
        "float16",
        Graph(
            [np.linspace(-250.0, 250.0, 300)],
            [
                Node(
                    "cross_entropy",
                    [0],
                    {
                        "target": np.array(0),
                        "ignore_index": -100,
                        "reduction": "mean",
                        "label_smoothing": 0.1,
                    },
                )
            ],
            [1],
            [np.array(0.7739233746429086)],
            [np.linspace(-1.5, 1.5, 300)],
        ),
    ),
    # One class: log_softmax is x - x = 0 and the Hessian is 0, but float16's x - lse
    # keeps eps |x| of rounding, times the target 27.4: -0.0063 against a tolerance of
    # 0.0052 (found by the reference's thorough run; cross_entropy was already marked
    # absolute_rounding, cross_entropy_probs was not).
    "cross_entropy_probs_one_class_hvp_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([1.369616873214543]), np.array([27.39233746429086])],
            [Node("cross_entropy_probs", [0, 1], {"reduction": "mean", "label_smoothing": 0.0})],
            [2],
            [np.array(0.7739233746429086)],
            [np.array([1.4739233746429088]), np.array([0.5936432494005137])],
        ),
    ),
    # A constant group, normalized twice: each group_norm's slope there is 1 / sqrt(eps)
    # = 316, so the leaf's adjoint is about 1e5, beyond float16's range: both modes
    # overflow (NaN) in torch and the reference alike. The adjoint check now applies the
    # range rule of the compared checks (found by the reference's thorough run).
    "group_norm_twice_of_a_constant_group_float16": (
        "adjoint",
        "float16",
        Graph(
            [np.array([0.0014176200141427246, 0.001151158774197225]).reshape((2, 1))],
            [
                Node("embedding", [0], {"indices": np.array([[0, 0, 0]])}),
                Node("group_norm", [1], {"num_groups": 1, "eps": 1e-05}),
                Node("group_norm", [2], {"num_groups": 1, "eps": 1e-05}),
            ],
            [3],
            [
                np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055]).reshape(
                    (1, 3, 1)
                )
            ],
            [np.array([1.4739233746429088, -1.2784605611722593]).reshape((2, 1))],
        ),
    ),
    # "batchmean" sums every term before dividing by the batch size (for a 1-d input, its
    # length): 2000 terms of 36.9 sum to 73,900, beyond float16's 65,504, and torch (the
    # reference too) returns inf for a loss of 36.9 (docs/findings.md; the reference's
    # thorough run drew such a sum of 66,000).
    "kl_div_batchmean_sum_overflows_float16": (
        "forward",
        "float16",
        Graph(
            [np.full(2000, -3.0), np.full(2000, 2.0)],
            [Node("kl_div", [0, 1], {"reduction": "batchmean", "log_target": True})],
            [2],
            [np.array(0.7739233746429086)],
            [np.linspace(-1.5, 1.5, 2000), np.linspace(1.0, -1.0, 2000)],
        ),
    ),
    # Found by the README's default run (a random seed): attention of a query with itself,
    # scores near 17, values near 92. The softmax saturates, and its second derivative
    # cancels terms of about |value| d score |score tangent| (~9000) to 3.5e-5: torch and the
    # reference are each 1.2e-13 off in float64 (against 80-digit arithmetic) and keep no
    # correct digit in float32 (OpSpec.cancelling_terms).
    "attention_second_derivative_saturates": (
        "higher_order",
        "float32",
        Graph(
            [
                np.array(
                    [
                        4.0,
                        4.0,
                        -0.551367532735536,
                        -2.5,
                        2.5,
                        4.0,
                        3.660254713042826,
                        -4.0,
                        2.5695855032726715,
                    ]
                ).reshape((3, 3)),
                np.array([0.0012095899718636777, 16.0, -91.80529521276107]).reshape((3, 1)),
            ],
            [Node("scaled_dot_product_attention", [0, 0, 1], ATTENTION)],
            [2],
            [
                np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055]).reshape(
                    (3, 1)
                )
            ],
            [
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                        1.2986764332005447,
                        -0.46465878894455703,
                        1.12147548373436,
                        -0.06724479893200486,
                        1.2315218925308462,
                    ]
                ).reshape((3, 3)),
                np.array([0.8439233746429089, -1.6484605611722594, -0.11198497472761004]).reshape(
                    (3, 1)
                ),
            ],
        ),
    ),
    # hypot(x, x) = sqrt(2) |x| is linear along (t, t): its second derivative sums terms of
    # about t^2 / h (10 at x = -0.11) that cancel to 0, and float16 keeps 0.0078 of them, in
    # torch and the reference alike (OpSpec.cancelling_terms; the reference's thorough run).
    "hypot_of_a_value_with_itself_in_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([-0.1120941392828579, -2.5, -95.90674495877415])],
            [Node("hypot", [0, 0], {})],
            [1],
            [np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055])],
            [np.array([1.4739233746429088, -1.2784605611722593, 0.5180150252723899])],
        ),
    ),
    # A chain of self-attention over 1-element rows (scores up to 16) into values near 97:
    # each saturated softmax cancels |value| |d score| per unit of adjoint, and rounding
    # the scores moves it by 16 eps relative. The gradient is ~4e-17; float32 gives 2.7e-4
    # (torch) and 1.0e-4 (the reference), tolerance 7e-5 before (the reference's thorough
    # run; OpSpec.cancelling_terms).
    "attention_chain_gradient_cancels_in_float32": (
        "vjp",
        "float32",
        Graph(
            [
                np.array(
                    [2.5, 4.0, -0.09542659636059955, 3.589195577097951, -2.5, -0.08678096959483876]
                ).reshape((2, 3, 1)),
                np.array(
                    [
                        27.39233746429086,
                        -46.04265724722594,
                        -91.80529521276107,
                        -96.69447289429418,
                        -2.5,
                        40.0,
                    ]
                ).reshape((2, 3, 1)),
            ],
            [
                Node("scaled_dot_product_attention", [0, 0, 0], ATTENTION),
                Node("scaled_dot_product_attention", [2, 2, 2], ATTENTION),
                Node("scaled_dot_product_attention", [3, 3, 3], ATTENTION),
                Node(
                    "scaled_dot_product_attention",
                    [4, 4, 1],
                    {
                        **ATTENTION,
                        "attn_mask": np.array([[True, False, False]] * 6).reshape((2, 3, 3)),
                    },
                ),
                Node("scaled_dot_product_attention", [4, 4, 5], ATTENTION),
            ],
            [6],
            [
                np.array(
                    [
                        0.7739233746429086,
                        -1.5784605611722595,
                        -0.18198497472761055,
                        -2.321046695042942,
                        1.598676433200545,
                        0.23534121105544314,
                    ]
                ).reshape((2, 3, 1))
            ],
            [
                np.array(
                    [
                        1.4739233746429088,
                        -1.2784605611722593,
                        0.5180150252723899,
                        -2.021046695042942,
                        1.2986764332005447,
                        -0.46465878894455703,
                    ]
                ).reshape((2, 3, 1)),
                np.array(
                    [
                        0.8439233746429089,
                        -1.6484605611722594,
                        -0.11198497472761004,
                        -2.391046695042942,
                        1.6686764332005457,
                        0.16534121105544286,
                    ]
                ).reshape((2, 3, 1)),
            ],
        ),
    ),
    # group_norm of v5 = linear(v4, v4), v4 = group_norm(x): the second group_norm's
    # gradient rounds by eps |adjoint| |v5| / d^2 (d = 0.11, |v5| = 9.6), and the ops
    # before it amplify that 22x on the way to x. float32: torch -0.12422 and the
    # reference 0.11335 off the truth by 1e-3, tolerance 5.4e-4 before (seed 108 of the
    # default profile; torch float64 failed too; checks._reach).
    "group_norm_chain_amplifies_its_rounding": (
        "vjp",
        "float32",
        Graph(
            [
                np.array([[0.5478467492858172]]),
                np.array(
                    [
                        -1.2848866844084916,
                        -0.3993787990560163,
                        -1.5585290334944486,
                        -0.13314530819389836,
                        1.1230125827041963,
                        -0.0384199184973771,
                        0.3418558683394192,
                        1.272458369198496,
                        0.05203304949669804,
                    ]
                ).reshape((3, 3)),
                np.array([1.8584874245295895, -1.8661913096170166, 1.1741434190747462]),
            ],
            [
                Node("linear", [0, 0], {}),
                Node("group_norm", [1, 2], GROUP_NORM),
                Node("linear", [4, 4], {}),
                Node("group_norm", [5], GROUP_NORM),
                Node("linear", [6, 6], {}),
            ],
            [7],
            [
                np.array(
                    [
                        0.7739233746429086,
                        -1.5784605611722595,
                        -0.18198497472761055,
                        -2.321046695042942,
                        1.598676433200545,
                        0.23534121105544314,
                        1.4214754837343597,
                        -0.3672447989320038,
                        1.531521892530846,
                    ]
                ).reshape((3, 3))
            ],
        ),
    ),
    # tanh(1 / x) at x = -0.157: tanh saturates (1 / x = -6.4), its second derivative
    # keeps eps of its terms, and reciprocal carries that to x 40x (1 / x^2). float32:
    # torch 0.065338 and the reference 0.065985 against 0.065615, tolerance 2.6e-4 before
    # (seed 147 of the default profile; checks._adjoint_at_leaves).
    "tanh_of_a_reciprocal_second_derivative_in_float32": (
        "higher_order",
        "float32",
        Graph(
            [
                np.array([-0.1573647105615014, -67.57935109524374, -40.0]),
                np.array(3.2211122678751263),
            ],
            [
                Node("reciprocal", [0], {}),
                Node("tanh", [2], {}),
                Node("log", [1], {}),
                Node("neg", [4], {}),
            ],
            [5, 3],
            [
                np.array(0.7739233746429086),
                np.array([1.6494775825562686, -1.3737578882875474, 1.7078841511839442]),
            ],
            [
                np.array([1.1971633922735911, -1.4073656449823582, 1.670442861690428]),
                np.array(0.6097961964558913),
            ],
        ),
    ),
    # repeat that tiles only size-1 dims, then view: the reference's repeat was a view of
    # its input there, and its `view` refused the shape (torch's repeat copies). Seed 176 of
    # the default profile, batched::shape (reference_engine.layout.repeat).
    "view_of_a_repeat_of_size_one_dims": (
        "batched",
        "float64",
        Graph(
            [np.array([0.0013653840697809107, 0.0011338568304634271])],
            [Node("repeat", [0], {"repeats": (1, 1, 2, 1)}), Node("view", [1], {"shape": (4,)})],
            [2],
            [
                np.array(
                    [
                        0.7739233746429086,
                        -1.5784605611722595,
                        -0.18198497472761055,
                        -2.321046695042942,
                    ]
                )
            ],
            [np.array([1.1971633922735911, -1.4073656449823582])],
        ),
    ),
    # log_softmax's VJP, g - softmax(x) sum(g), where softmax saturates: torch's float32
    # kernel sums g in 8 vector lanes, each of one sign here, which cancel; that keeps
    # 1.2e-4 where the tolerance was 1.0e-4. Built like seed 231 of the default profile
    # (683 wide values, 1.0e-4 against 9.8e-5): ops.reductions.log_softmax_cancelling_terms.
    "log_softmax_sums_cancelling_cotangents_in_lanes": saturated_log_softmax(),
    # A broadcast input's gradient sums the output's cotangents over the broadcast: torch
    # float32 kept 1.6e-4 of a sum of 4095 (0.5451 against 0.5453, tolerance 9.2e-5):
    # checks._summed_adjoints.
    "broadcast_sums_cancelling_cotangents": broadcast_sums_cotangents(),
    # An exact tie beside a near one: bfloat16 rounds (-4.99, -5.0) to equal values, which
    # made std's whole node count as at its convention, unchecked for rounding; but the
    # row (2.266, 2.281), one ulp apart, has a mean bfloat16 cannot hold, and torch gave
    # (1.59, 0) where the truth is (0.80, -0.80) (the thorough profile). Kink.near.
    "std_exact_tie_beside_a_near_tie": (
        "vjp",
        "bfloat16",
        Graph(
            [np.array([[-4.99, -5.0], [2.26903495, 2.27903495]])],
            [Node("std", [0], {"dim": -1, "correction": 1, "keepdim": False})],
            [1],
            [np.array([0.7739233746429086, -1.1220671197643686])],
        ),
    ),
    # atan2(v, v) is pi / 4: torch's backward forms 1 / (x^2 + y^2), its second derivative
    # the square of that, which overflow float16 at v = 0.0024 (gradient) and v = -0.035
    # (Hessian): NaN where the truth is 0 (the thorough profile). OpSpec.internal_size.
    "atan2_reciprocal_overflows_float16": (
        "vjp",
        "float16",
        Graph(
            [np.array(0.049155541736572626)],
            [Node("mul", [0, 0], {}), Node("atan2", [1, 1], {})],
            [2],
            [np.array(0.7739233746429086)],
            [np.array(1.1971633922735911)],
        ),
    ),
    "atan2_reciprocal_squared_overflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array(-0.017641449093531686)],
            [Node("add", [0, 0], {}), Node("atan2", [1, 1], {})],
            [2],
            [np.array(0.7739233746429086)],
            [np.array(1.1971633922735911)],
        ),
    ),
    # The same overflow under a zero cotangent: 0 times inf is NaN, which the invariants
    # oracle read as "a zero cotangent gave a nonzero gradient".
    "atan2_reciprocal_overflows_float16_under_a_zero_cotangent": (
        "invariants",
        "float16",
        Graph(
            [np.array([0.0013653840697809107, 0.0011338568304634271])],
            [Node("add", [0, 0], {}), Node("atan2", [1, 1], {})],
            [2],
            [np.array([0.7739233746429086, -1.5784605611722595])],
        ),
    ),
    # The torch adapter once took prod over all dims one dim at a time: the last prod, over
    # a dim of size 1 of the product 1.5e-6, divides by it in its double backward, and
    # 1 / 1.5e-6 overflows float16 (inf where the truth is -1.09; the thorough profile).
    # torch.prod over the flattened elements forms no such term.
    "prod_over_dims_one_at_a_time_overflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([[0.0013323446304237512], [0.0011227085493960359]])],
            [Node("prod", [0], {"dim": None, "keepdim": False})],
            [1],
            [np.array(0.7739233746429086)],
            [np.array([[1.1971633922735911], [-1.4073656449823582]])],
        ),
    ),
    # A scalar divisor's gradient sums -g x / y^2 over the 18 elements it divides: terms of
    # about 1000 (y = 0.19) that cancel to -2.9. bfloat16 keeps eps of the terms: torch's
    # in-place div gave -7.4, tolerance 3.0 (the thorough profile): the local derivative's
    # size counts in checks._summed_adjoints, not only the adjoint's.
    "broadcast_sum_of_large_local_derivatives": div_by_a_small_scalar(),
    # A normalization of values 1e-6 apart has rstd = 1 / sqrt(var + eps) = 316; torch's
    # forward mode and double backward form rstd^3, 3e7, which overflows float16: NaN
    # where the truth is finite (layer family, the thorough profile; the graphs there
    # had convolutions before these ops). OpSpec.internal_size (layers.normalization_terms).
    "layer_norm_forward_mode_overflows_float16": ("adjoint", "float16", tiny_layer_norm()),
    "layer_norm_second_derivative_overflows_float16": (
        "higher_order",
        "float16",
        tiny_layer_norm(),
    ),
    # group_norm's backward forms it too: 0 times inf under a zero cotangent is NaN.
    "group_norm_backward_overflows_float16_under_a_zero_cotangent": (
        "invariants",
        "float16",
        Graph(
            [np.array([[0.03270691330040203, -0.001272127751357795, -0.019404841233686652]])],
            [Node("group_norm", [0], GROUP_NORM)],
            [1],
            [np.array([[0.7739233746429086, -1.5784605611722595, -0.18198497472761055]])],
        ),
    ),
    # ... and var itself: a group spread by hundreds (var 2e5) overflows float16 in the
    # double backward (NaN; group_norm), or rounds its Hessian to -0.0093 where the truth is
    # -0.0031 (batch_norm of values up to 964, var 4e5; the thorough profile).
    "group_norm_variance_overflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([[0.011256509606156475, 40.02, -918.0529521276106]])],
            [Node("group_norm", [0], GROUP_NORM)],
            [1],
            [np.array([[0.7739233746429086, -1.5784605611722595, -0.18198497472761055]])],
            [np.array([[1.1971633922735911, -1.4073656449823582, 1.670442861690428]])],
        ),
    ),
    "batch_norm_variance_loses_float16": wide_batch_norm(),
    # A normalization near its curved kink passes x - mean's rounding, eps |x| / d of its
    # output, to the ops after it: float32 group_norm of a group 1.81 +- 0.002, then
    # layer_norm, was 9e-5 off where the tolerance was 6e-5 (the thorough profile's forward;
    # checks._output_scale).
    "forward_through_a_nearly_equal_group": nearly_equal_group(),
    # sin of a computed x^2 sees it rounded, by eps x^2 / 2, and its derivative cos moves
    # by sin(x^2) times that: float16 at x = 8.2 (the thorough profile's unary family:
    # 0.232 where the truth is 0.046, tolerance 0.024), float32 at x = 39 (3e-3 off,
    # tolerance 1.2e-3), bfloat16 at x = 38.8 (x^2 rounds by 2.4: no digit is right).
    # checks._rounded_inputs.
    "derivative_at_a_rounded_input_float16": sin_of_square(8.217701239287258, "float16"),
    "derivative_at_a_rounded_input_float32": sin_of_square(39.01002506265664, "float32"),
    "derivative_at_a_rounded_input_bfloat16": sin_of_square(38.81203007518797, "bfloat16"),
    # torch's double backward of std divides by std^2 terms of size |x - mean| / std: a
    # float16 std of 0.0072 gave an inf Hessian where the truth is 0 (two values, the
    # thorough profile; ops.reductions.std_double_backward_terms).
    "std_second_derivative_overflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([0.011365384069780911, 0.0011338568304634271])],
            [Node("std", [0], {**STD, "correction": 1})],
            [1],
            [np.array(1.3861122111447353)],
            [np.array([1.8874590818295776, -1.649009850711486])],
        ),
    ),
    # bfloat16 holds clamp's bound -750 as -752: torch's gradient at a leaf of -752.59
    # (-752 there) is 1, on the bound, where float64 leaves it outside (0). Another leaf
    # exactly on the bound 500 made the example an exact tie, which skipped the others'
    # gaps (the thorough profile's inplace check, a (2, 381) leaf; minimal here).
    "clamp_bound_rounded_onto_a_leaf": (
        "inplace",
        "bfloat16",
        Graph(
            [np.array([[-752.59, 500.0, 100.0]])],
            [Node("clamp", [0], {"min": -750.0, "max": 500.0})],
            [1],
            [np.array([[0.7739233746429086, -1.5784605611722595, 0.3]])],
        ),
    ),
    # prod's second derivative: torch differentiates g prod(x) / x_i, whose terms
    # |g| |prod| |t_j| / |x_i x_j| cancel (to 0 for one element: |g| |t| / |x| = 9.8 here);
    # float32 kept -9.5e-7 of the Hessian's 0 where the tolerance was 7.2e-7 (seed 281 of
    # the default profile): ops.reductions.prod_cancelling_terms.
    "prod_second_derivative_cancels_over_a_small_element": (
        "higher_order",
        "float32",
        Graph(
            [np.array(27.39233746429086), np.array([0.01639282645378206])],
            [
                Node("sum", [0], {"dim": None, "keepdim": False}),
                Node("prod", [1], {"dim": None, "keepdim": False}),
                Node("sum", [3], {"dim": None, "keepdim": False}),
            ],
            [4],
            [np.array(-0.16549450189076254)],
            [np.array(0.6731380574917751), np.array([0.973691495808757])],
        ),
    ),
    # cdist(x, x) leaves out its diagonal (|x_i - x_i| is 0 whatever x), so a zero distance
    # left is a tie between two rows, exact only among leaves: here every row is cross(v, v),
    # 0 in float64, but torch's float32 cross rounds its two products differently (-2.7e-8,
    # 1.5e-11, -1.9e-11), and its cdist gradient at those distinct rows is O(1) where the
    # convention is 0 (-6.7, the thorough profile's vjp::linalg::float32).
    "cdist_of_rows_computed_equal": (
        "vjp",
        "float32",
        Graph(
            [np.array([[0.0011338568304634271], [0.483759441472685], [-1.8361059042552212]])] * 2,
            [Node("cross", [0, 1], {"dim": 0}), Node("cdist", [2, 2], {})],
            [3],
            [np.array([[0.77, -1.58, -0.18], [-2.32, 1.60, 0.24], [1.42, -0.37, 1.53]])],
        ),
    ),
    # softmax's second derivative sums terms of |g| |t| whatever its inputs' size, which
    # cancel (to 0 for two equal inputs); the reference engine computes them in float16 and
    # keeps eps of them, where the tolerance had |g| |t| / max |leaf| (the thorough
    # profile's higher_order::softmax::float16 and along_dim::float16, on the reference):
    # ops.reductions.softmax_cancelling_terms.
    "softmax_second_derivative_cancels_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([[-2.5, -16.0], [-300.0, 8.0], [-8.0, 0.001093520305339556]])],
            [Node("softmax", [0], {"dim": 0})],
            [1],
            [np.array([0.52364, -0.21711, 0.02439, -0.4568, 0.5958, -0.74352]).reshape(3, 2)],
            [np.array([1.79186, -1.45028, 1.10657, -1.3304, 0.67550, -1.69568]).reshape(3, 2)],
        ),
    ),
    "softmax_of_two_near_equal_values_beside_a_large_leaf_float16": (
        "higher_order",
        "float16",
        Graph(
            [
                np.array([0.0012565096061564745, 40.0, -918.0529521276106]),
                np.array([0.0014176200141427246, 0.001151158774197225]),
            ],
            [Node("softmax", [0], {"dim": 0}), Node("softmax", [1], {"dim": 0})],
            [3],
            [np.array([0.7739233746429086, -1.5784605611722595])],
            [
                np.array([1.1971633922735911, -1.4073656449823582, 1.670442861690428]),
                np.array([0.6097961964558913, -1.834122662801622]),
            ],
        ),
    ),
    # group_norm's float16 double backward forms weight times var: inf at var 2680 and
    # weights of 40, finite at a tenth of either (the thorough profile's
    # higher_order::group_norm::float16): ops.layers.normalization_terms.
    "group_norm_weight_times_variance_overflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [
                np.array(
                    [
                        2.54,
                        -72.79,
                        73.69,
                        2.55,
                        40.08,
                        0.0673,
                        10.35,
                        -89.84,
                        40.09,
                        86.25,
                        -15.98,
                        4.06,
                    ]
                ).reshape(3, 4),  # fmt: skip
                np.array([-40.0, 16.03, -39.99, 2.52]),
            ],
            [Node("group_norm", [0, 1], {"num_groups": 1, "eps": 1e-05})],
            [2],
            [
                np.array(
                    [
                        0.774,
                        -1.578,
                        -0.182,
                        -2.321,
                        1.599,
                        0.235,
                        1.421,
                        -0.367,
                        1.532,
                        -0.192,
                        1.312,
                        -2.293,
                    ]
                ).reshape(3, 4)
            ],  # fmt: skip
            [
                np.array(
                    [
                        1.197,
                        -1.407,
                        1.670,
                        -1.409,
                        0.898,
                        -2.246,
                        0.298,
                        0.468,
                        0.422,
                        -1.248,
                        0.609,
                        -0.440,
                    ]
                ).reshape(3, 4),  # fmt: skip
                np.array([0.610, -1.834, 0.551, -2.146]),
            ],
        ),
    ),
    # float16 holds sigmoid(-91.8) = 1.2e-40 as 0, where x ** 1.5's second derivative is
    # infinite: torch's Hessian was NaN against the truth -1e-60 (the thorough profile's
    # higher_order::unary::float16). ops.elementwise.pow_scalar_second_derivative.
    "pow_of_a_sigmoid_that_underflows_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([0.0012095899718636777, 16.0, -91.80529521276107])],
            [Node("sigmoid", [0], {}), Node("pow_scalar", [1], {"exponent": 1.5})],
            [2],
            [np.array([0.7739233746429086, -1.5784605611722595, -0.18198497472761055])],
            [np.array([1.1971633922735911, -1.4073656449823582, 1.670442861690428])],
        ),
    ),
    # torch's division backward forms x / y^2 before the cotangent scales it, and its double
    # backward x / y^3; addcdiv's divides value t1 / t2^2 by t2^2 again. float16 overflows
    # there: addcdiv's Hessian was inf where the truth is 1641 (the thorough profile's
    # higher_order::addcdiv::float16); div's gradient of 700 / 0.1 under a cotangent of
    # 0.01 (700) was -inf. ops.elementwise.quotient_terms.
    "addcdiv_divides_by_the_divisor_to_the_fourth_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array([4.0, 90.09273926518705]), np.array([0.14907469495658915])],
            [Node("addcdiv", [0, 0, 1], {"value": 0.5})],
            [2],
            [np.array([0.5236432494005134, -0.21710659604812954])],
            [np.array([1.791862630656948, -1.4502791050485122]), np.array([-0.31644195026410094])],
        ),
    ),
    # xlogy's second derivative in y forms x / y^2 (77,600 here): the reference's float16
    # Hessian was inf where the truth is 2777 (higher_order::xlogy::float16).
    "xlogy_forms_x_over_y_squared_float16": (
        "higher_order",
        "float16",
        Graph(
            [np.array(27.39233746429086), np.array(0.018782707176409077)],
            [Node("xlogy", [0, 1], {})],
            [2],
            [np.array(0.7898704957246674)],
            [np.array(1.1040010611808073), np.array(-0.04452715215512626)],
        ),
    ),
    "div_forms_x_over_y_squared_float16": (
        "vjp",
        "float16",
        Graph(
            [np.array(700.0), np.array(0.1)],
            [Node("div", [0, 1], {})],
            [2],
            [np.array(0.01)],
        ),
    ),
}


@pytest.mark.parametrize("adapter_name", ["torch", "reference"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_former_false_positive_does_not_fail(name, adapter_name):
    check, dtype, graph = CASES[name]
    try:
        run_check(check, graph, load_adapter(adapter_name), dtype=dtype)
    except Inconclusive:
        pass  # proving nothing is allowed; failing a correct engine is not
    except Unsupported as reason:  # the reference has no batched members
        pytest.skip(str(reason))


@pytest.mark.parametrize("check", ["vjp", "higher_order"])
def test_std_of_a_spread_row_is_conclusive_in_bfloat16(check):
    """The kink margin was ten rtols of the inputs' size, 2.5 |x| in bfloat16: more than
    any std, so all 1000 examples of higher_order::std::bfloat16 (the thorough profile)
    proved nothing, a cell that is not a pass. A curved kink keeps half (checks.
    CURVED_KINK_MARGIN): its conditioning is in the tolerances. Raises without it."""
    std = Node("std", [0], {"dim": -1, "correction": 1, "keepdim": False})
    row, tangent = np.array([[-1.5, 1.25, 0.5]]), np.array([[1.2, -1.4, 1.7]])
    graph = Graph([row], [std], [1], [np.array([0.7739233746429086])], [tangent])
    run_check(check, graph, load_adapter("torch"), dtype="bfloat16")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_group_norm_convention_sample_is_representable(dtype):
    """group_norm's equal group at eps 1e-5 has rstd 316: torch's float16 backward formed
    rstd^3 (NaN) and bfloat16 kept eps of terms x rstd = 474 (the weight's gradient 1.23
    where the convention is 0; the thorough profile). Its sample has eps 2^-4."""
    run_conventions("group_norm", load_adapter("torch"), dtype=dtype)


def test_torch_refuses_view_after_flip_of_a_transposed_tensor():
    """Why `flip` keeps a strided layout: this graph (which the generator once drew) makes
    torch raise, rightly, so the generator must never offer `view` there."""
    x = torch.arange(6.0).reshape(2, 3)
    flipped = torch.flip(x.transpose(0, 1).reshape(3, 2, 1), (0,))
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        flipped.view(6)


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(graphs(ops=["transpose", "flip", "view"], max_nodes=3, max_leaves=1))
def test_generated_views_are_legal_in_torch(graph):
    adapter = load_adapter("torch")
    inputs = [
        adapter.asarray_with_layout(leaf.values, "float64", "cpu", False, leaf.layout)
        for leaf in graph.leaves
    ]
    graph.evaluate(adapter, inputs)  # raises if a `view` gets strides it cannot take


def test_flip_of_a_strided_value_is_strided():
    """The layout model: an op that follows its input (flip, exp, reshape) is contiguous only
    when its inputs are; transpose never is; `view` takes only contiguous values."""
    from gradcheck.ops import CATALOG
    from gradcheck.strategies import GraphBuilder, Value

    builder = GraphBuilder(draw=None, max_leaves=0, edge_cases=False)
    builder.values = [Value((2, 3), (-1.0, 1.0), leaf=0)]
    for op, attrs in [("transpose", {"dim0": 0, "dim1": 1}), ("flip", {"dims": (0,)})]:
        spec = CATALOG[op]
        builder.values.append(
            Value(spec.shape([builder.values[-1].shape], attrs), (-1.0, 1.0),
                  contiguous=builder.layout_of(spec, [builder.values[-1]]))
        )  # fmt: skip
    assert [v.contiguous for v in builder.values] == [True, False, False]
    assert builder.layout_of(CATALOG["exp"], [builder.values[0]])
