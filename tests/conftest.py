"""The project's own tests draw the same hypothesis examples whatever else their process
imported (`gradcheck.profiles.without_local_constants`): derandomized runs repeat, under
pytest-xdist too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gradcheck.profiles import without_local_constants


@pytest.fixture(autouse=True)
def _same_examples_in_every_process() -> Iterator[None]:
    with without_local_constants():
        yield
