import os
import uuid

import pytest

from labkit import ENGINE_KINDS, Lab

# The engine kinds the engine-parametrised modules run on (default: all): PATCHOPS_TEST_ENGINES=docker26
# runs only the Docker 26 half.
ENGINES = [k for k in os.environ.get('PATCHOPS_TEST_ENGINES', ','.join(ENGINE_KINDS)).split(',') if k]


@pytest.fixture(scope='session')
def lab():
    return Lab()


@pytest.fixture
def uid():
    """A short unique suffix, so tests never collide on container names."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope='module', params=ENGINES)
def engine_kind(request, lab):
    """The engine kind a module's tests run on: each test once per kind, the body unchanged.

    A module opts in with an autouse fixture that takes ``engine_hosts`` (or this) and sets the
    hosts it works on; the tests' ids end in the kind, e.g. ``test_fidelity_v1_to_v2[docker26]``.
    """
    if not lab.hosts_of(request.param):
        pytest.skip('the lab has no %s host (tests/lab/lab up --docker26-hosts 3)' % request.param)
    return request.param


@pytest.fixture(scope='module')
def engine_hosts(lab, engine_kind):
    """Three distinct hosts for this engine kind (its own first; see Lab.pick)."""
    return lab.pick(engine_kind, 3)
