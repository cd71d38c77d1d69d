"""Each role's defaults and its meta/argument_specs.yml agree: every default is declared with the same
value, and every declared option with a default has it in defaults/main.yml."""

import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', d)))


def load(role, *path):
    full = os.path.join(ROOT, 'roles', role, *path)
    if not os.path.exists(full):
        return None
    with open(full) as fh:
        return yaml.safe_load(fh) or {}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_the_argument_spec(role):
    spec = load(role, 'meta', 'argument_specs.yml')
    assert spec, 'role %s has no meta/argument_specs.yml' % role
    options = spec['argument_specs']['main'].get('options') or {}
    defaults = load(role, 'defaults', 'main.yml') or {}
    for name in defaults:
        assert name.startswith(role + '_'), '%s: default %s lacks the role prefix' % (role, name)
        assert name in options, '%s: default %s is not in the argument spec' % (role, name)
        declared = options[name].get('default')
        value = defaults[name]
        if isinstance(value, str) and '{{' in value:
            continue  # computed at run time from other variables
        if 'default' in options[name]:
            assert declared == value or str(declared) == str(value), \
                '%s: %s is %r in defaults, %r in the argument spec' % (role, name, value, declared)
    for name, option in options.items():
        assert name.startswith(role + '_'), '%s: option %s lacks the role prefix' % (role, name)
        if 'default' in option and not option.get('required'):
            assert name in defaults, '%s: %s has a default in the argument spec but not in defaults/main.yml' % (role, name)
