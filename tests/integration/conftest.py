import uuid

import pytest

# pylint: disable-next=unused-import
from shardkit import engine_hosts, engine_kind, lab, pytest_collection_modifyitems, pytest_configure  # noqa: F401


@pytest.fixture
def uid():
    """A short unique suffix, so tests never collide on container names."""
    return uuid.uuid4().hex[:8]
