"""Fixtures of the reliability suite (the lab, engine kinds and shards as in the integration suite,
a unique suffix per test)."""

import uuid

import pytest

# pylint: disable-next=unused-import
from shardkit import engine_hosts, engine_kind, lab, pytest_collection_modifyitems, pytest_configure  # noqa: F401


@pytest.fixture
def uid():
    """A short unique suffix: every container, volume, repository and file a test makes carries it."""
    return 'r' + uuid.uuid4().hex[:7]
