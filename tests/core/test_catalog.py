"""The catalog is the one list of ops: the docs' table is generated from it, every op is
implemented by the built-in adapters, and every record is complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gradcheck.adapters import load_adapter
from gradcheck.ops import CATALOG, catalog_table, spec_of
from gradcheck.ops.registry import known

DOCS = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"


def test_the_docs_op_table_is_the_catalog():
    text = DOCS.read_text()
    documented = re.search(r"<!-- catalog:begin -->\n(.*)<!-- catalog:end -->", text, re.S)
    assert documented, "docs/architecture.md lost its catalog markers"
    assert documented.group(1) == catalog_table(), (
        "docs/architecture.md's op table differs from CATALOG: paste the output of "
        "`python -m gradcheck.ops` between its catalog markers"
    )


@pytest.mark.parametrize("adapter_name", ["reference", "torch"])
def test_every_catalog_op_has_an_adapter_line(adapter_name):
    adapter = load_adapter(adapter_name)
    assert not set(CATALOG) - set(adapter.ops), "ops without a line in the adapter"
    assert set(adapter.ops) == set(adapter.op_source)


@pytest.mark.parametrize("adapter_name", ["reference", "torch"])
def test_every_in_place_form_runs_on_the_imperative_adapters(adapter_name):
    adapter = load_adapter(adapter_name)
    forms = {spec.inplace: name for name, spec in CATALOG.items() if spec.inplace}
    assert len(forms) >= 12, "the in-place forms the catalog declares"
    assert "clone" in adapter.ops  # the inplace check writes into clones
    for form, name in forms.items():
        assert form in adapter.ops, f"{name}'s in-place form {form} has no adapter line"
        assert spec_of(form) is CATALOG[name]  # the same record: shapes, kinks, domains
        assert known(form) and form not in CATALOG  # a name, not a catalog row


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_record_is_complete(name):
    spec = CATALOG[name]
    assert spec.name == name and spec.signature.startswith("(")
    assert spec.family and spec.arity[0] <= spec.arity[1]
    low, high = spec.arity
    assert len(spec.domains) in (1, high) or high > len(spec.domains)
    for sample in spec.samples:
        assert low <= len(sample.inputs) <= high, f"{name}: a sample with the wrong arity"
    if spec.kink is not None:
        assert spec.kink.convention, f"{name}: a kink needs its convention"
