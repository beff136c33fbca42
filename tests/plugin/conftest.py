"""pytester set-up for the plugin tests (helpers live in plugin_helpers.py)."""

from __future__ import annotations

import pytest
from plugin_helpers import ZOO

# Inline pytester runs drop modules first imported inside them; numpy cannot be imported
# twice per process, so import what the inner runs use here, once.
import gradcheck.adapters.reference  # noqa: F401
import gradcheck.checks  # noqa: F401
import gradcheck.strategies  # noqa: F401


@pytest.fixture
def zoo(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester dir holding `zoo.py`, importable by the inner run."""
    pytester.makepyfile(zoo=ZOO)
    pytester.syspathinsert()
    return pytester
