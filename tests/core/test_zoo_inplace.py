"""The bug zoo of in-place ops (tests/bug_zoo.py): an in-place form whose backward drops
an input, and a clone that shares its input's memory, are caught by the `inplace` check
in a search like the suite's default profile, with repros that fail on their own; the
correct adapters pass the same search."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from gradcheck.adapters import load_adapter
from gradcheck.checks import run_check
from gradcheck.errors import Unsupported
from gradcheck.graph import Graph, Node
from gradcheck.inplace import eligible, in_place_graph
from gradcheck.ops import CATALOG
from tests import bug_zoo
from tests.core.test_oracle_zoo import run_repro
from tests.zoo_search import search

IN_PLACE_OPS = sorted(name for name, spec in CATALOG.items() if spec.inplace)


@pytest.mark.parametrize(("name", "op"), [("inplace_drops_other", "mul"), ("clone_shares", "exp")])
def test_a_broken_in_place_adapter_is_caught(name: str, op: str, tmp_path: Path) -> None:
    adapter, check = bug_zoo.BROKEN_ADAPTERS[name]
    assert check == "inplace"
    _, failures = search("inplace", adapter, op)
    assert failures, f"inplace missed {name} in the default search"
    failure = failures[-1]
    assert failure.check == "inplace" and f"{op}_" in (failure.op or ""), failure
    assert run_repro(failure.repro, tmp_path).returncode != 0


@pytest.mark.parametrize("adapter_name", ["reference", "torch"])
@pytest.mark.parametrize("op", IN_PLACE_OPS)
def test_correct_adapters_pass_the_same_search(adapter_name: str, op: str) -> None:
    conclusive, failures = search("inplace", load_adapter(adapter_name), op, n=10)
    assert not failures and conclusive > 0


def test_the_transform_clones_the_first_input_of_each_node_it_runs_in_place() -> None:
    import numpy as np

    from gradcheck.graph import Graph, Node

    x, y = np.array([[1.0, -2.0]]), np.array([[0.5], [3.0]])
    graph = Graph([x, y], [Node("exp", [0]), Node("mul", [2, 1]), Node("add", [2, 2])], [3, 4])
    adapter = load_adapter("reference")
    assert eligible(graph, adapter) == [0, 2]  # mul broadcasts x (1, 2) to (2, 2)
    ops = [(n.op, n.inputs) for n in in_place_graph(graph, adapter).nodes]
    assert ops == [("clone", (0,)), ("exp_", (2,)), ("mul", (3, 1)), ("clone", (3,)),
                   ("add_", (5, 3))]  # fmt: skip


def test_an_adapter_without_in_place_forms_is_unsupported_naming_it() -> None:
    functional = copy.copy(load_adapter("reference"))  # as a jax-style engine would be
    functional.ops = {k: v for k, v in functional.ops.items() if not k.endswith("_")}
    functional.name = "functional"
    graph = Graph([np.array([0.5, -1.0])], [Node("exp", [0])], [1], [np.ones(2)], [np.ones(2)])
    with pytest.raises(Unsupported, match="adapter 'functional' has no in-place forms .exp_."):
        run_check("inplace", graph, functional)
    log = Graph([np.array([0.5, 1.0])], [Node("log", [0])], [1], [np.ones(2)], [np.ones(2)])
    with pytest.raises(Unsupported, match="no op of this graph has an in-place form"):
        run_check("inplace", log, load_adapter("reference"))
