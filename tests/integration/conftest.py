import uuid

import pytest

from labkit import Lab


@pytest.fixture(scope='session')
def lab():
    return Lab()


@pytest.fixture
def uid():
    """A short unique suffix, so tests never collide on container names."""
    return uuid.uuid4().hex[:8]
