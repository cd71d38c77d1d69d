"""Fixtures of the reliability suite (the lab, a unique suffix per test)."""

import uuid

import pytest

from labkit import Lab


@pytest.fixture(scope='session')
def lab():
    return Lab()


@pytest.fixture
def uid():
    """A short unique suffix: every container, volume, repository and file a test makes carries it."""
    return 'r' + uuid.uuid4().hex[:7]
