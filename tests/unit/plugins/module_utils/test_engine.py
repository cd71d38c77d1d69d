import pytest

from ansible_collections.patchops.containers.plugins.module_utils._engine import (
    MAX_API_VERSION, negotiate_api_version)


@pytest.mark.parametrize('requested, engine_api, engine_min, expected', [
    ('auto', '1.41', '1.12', '1.41'),           # Docker 20.10: its own newest
    ('auto', '1.45', '1.24', '1.45'),           # Docker 26
    ('auto', '1.52', '1.44', MAX_API_VERSION),  # Docker 29: the newest the collection knows
    ('auto', '1.60', '1.50', '1.50'),           # an engine whose minimum is past what we know: never below it
    ('AUTO', '1.41', None, '1.41'),
    (None, '1.41', '1.12', '1.41'),
    ('1.41', '1.45', '1.24', '1.41'),           # explicit and in range: as asked
    ('1.44', '1.52', '1.44', '1.44'),
])
def test_negotiated(requested, engine_api, engine_min, expected):
    assert negotiate_api_version(requested, engine_api, engine_min) == (expected, None)


@pytest.mark.parametrize('requested, engine_api, engine_min, says', [
    ('1.41', '1.52', '1.44', 'below the minimum API 1.44 of this engine'),   # Docker 29 refuses 1.41
    ('1.44', '1.41', '1.12', 'newer than API 1.41'),
    ('1.26', '1.45', '1.24', 'below 1.30, the oldest API patchops.containers speaks'),
])
def test_explicit_version_outside_the_engine_range(requested, engine_api, engine_min, says):
    version, why = negotiate_api_version(requested, engine_api, engine_min)
    assert version is None and says in why and 'api_version: auto' in why
