"""The repo's own pytest set-up.

The repo's tests run under the same hypothesis profiles as the suite: gradcheck-ci
(derandomized) when CI is set, else gradcheck-dev; ``--hypothesis-profile`` wins.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from gradcheck.profiles import load_default_profile, register_profiles

# Registered at import, before hypothesis' own plugin loads a --hypothesis-profile.
register_profiles()

# pytester drives the plugin tests (tests/plugin). A checkout that is not pip-installed
# has no pytest11 entry point: load the plugin here too.
pytest_plugins = ["pytester"]
if not any(ep.value == "pytest_gradcheck" for ep in entry_points(group="pytest11")):
    pytest_plugins.append("pytest_gradcheck")


def pytest_configure(config: pytest.Config) -> None:
    load_default_profile(config)
