"""Engine kinds and CI shards, shared by the integration and reliability suites' conftests (which
import these fixtures and hooks): a test runs once per engine kind, in that kind's shard, on that
kind's own lab hosts."""

import os

import pytest

from labkit import ENGINE_KINDS, Lab

# The engine kinds the engine-parametrised modules run on (default: all): PATCHOPS_TEST_ENGINES=docker26
# runs only the Docker 26 half.
ENGINES = [k for k in os.environ.get('PATCHOPS_TEST_ENGINES', ','.join(ENGINE_KINDS)).split(',') if k]
# CI runs a suite as concurrent shards, one per engine kind, each on its own lab hosts
# (PATCHOPS_TEST_SHARD=docker26): a test belongs to the shard of the engine kind it is parametrised
# with, else to its module's ``pytest.mark.shard('kind')``, else to the Docker 20.10 shard. The
# reliability suite's ``shard('serial')`` tests touch what every host shares (the registry): they
# run alone, after the concurrent shards.
SHARD = os.environ.get('PATCHOPS_TEST_SHARD', '')
DEFAULT_SHARD = ENGINE_KINDS[0]


def shard_of(item):
    callspec = getattr(item, 'callspec', None)
    if callspec is not None and 'engine_kind' in callspec.params:
        return callspec.params['engine_kind']
    marker = item.get_closest_marker('shard')
    return marker.args[0] if marker else DEFAULT_SHARD


def pytest_configure(config):
    config.addinivalue_line('markers', 'shard(kind): the CI shard (engine kind, own lab hosts) a test runs in')


def pytest_collection_modifyitems(config, items):
    if not SHARD:
        return
    keep = [item for item in items if shard_of(item) == SHARD]
    dropped = [item for item in items if shard_of(item) != SHARD]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope='session')
def lab():
    return Lab()


@pytest.fixture(scope='module', params=ENGINES)
def engine_kind(request, lab):
    """The engine kind a module's tests run on: each test once per kind, the body unchanged.

    A module opts in with an autouse fixture that takes ``engine_hosts`` (or this) and sets the
    hosts it works on; the tests' ids end in the kind, e.g. ``test_fidelity_v1_to_v2[docker26]``.
    """
    if not lab.hosts_of(request.param):
        pytest.skip('the lab has no %s host (tests/lab/lab up --docker26-hosts 3 --podman-hosts 3)' % request.param)
    return request.param


@pytest.fixture(scope='module')
def engine_hosts(lab, engine_kind):
    """Three distinct hosts for this engine kind (its own first; see Lab.pick)."""
    return lab.pick(engine_kind, 3)
