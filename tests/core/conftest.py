import pytest

from tests.core.helpers import Harness


@pytest.fixture
def harness() -> Harness:
    """A core with the default settings (rooms of 2) and ids s1, s2, ..."""
    return Harness()
