"""Fixtures shared by several test modules."""

import pytest

from sk_dispersion import demo


@pytest.fixture
def demo_extra():
    """Skip, with the install command, when the demo extra is missing."""
    missing = demo.missing_demo_packages()
    if missing:
        pytest.skip(
            f"demo extra not installed (missing {', '.join(missing)}); "
            'install it with pip install -e ".[demo]"'
        )
