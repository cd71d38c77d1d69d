"""The roles' contracts, read from the files:

- each role's defaults and its meta/argument_specs.yml agree (every entry point): every default is
  declared with the same value, and every declared option with a default has it in defaults/main.yml;
- no role reads another role's variables or facts, nor the playbooks' (``patchops_*``) outside its
  defaults: what one role sets is passed to the next as a declared input by the playbook;
- every fact a role sets is listed in its README's "Facts set";
- ``include_role`` of a collection role names an entry point of its argument spec and passes only
  options declared there;
- the plays that run the roles take the engine connection from ``module_defaults`` for the action
  group ``docker``, which lists every module that talks to the engine."""

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(d for d in os.listdir(os.path.join(ROOT, 'roles')) if os.path.isdir(os.path.join(ROOT, 'roles', d)))
PLAYBOOKS = sorted(f for f in os.listdir(os.path.join(ROOT, 'playbooks')) if f.endswith('.yml'))
# Ansible's own variables that happen to start with a role's prefix.
MAGIC = {'inventory_hostname', 'inventory_hostname_short', 'inventory_dir', 'inventory_file', 'inventory_hostnames'}
SET_FACT = ('ansible.builtin.set_fact', 'set_fact')
INCLUDE_ROLE = ('ansible.builtin.include_role', 'ansible.builtin.import_role', 'include_role', 'import_role')
# An identifier not preceded by '.' or a word character (not an attribute, not a filter's FQCN).
NAME = re.compile(r'(?<![.\w])[A-Za-z_][A-Za-z0-9_]*')


def load(role, *path, root=ROOT):
    full = os.path.join(root, 'roles', role, *path)
    if not os.path.exists(full):
        return None
    with open(full) as fh:
        return yaml.safe_load(fh) or {}


def entry_points(role, root=ROOT):
    spec = load(role, 'meta', 'argument_specs.yml', root=root) or {}
    return spec.get('argument_specs') or {}


def role_files(role, root=ROOT):
    """(relative path, parsed YAML or text) of every file of the role that Ansible runs or templates."""
    base = os.path.join(root, 'roles', role)
    for sub in ('tasks', 'handlers', 'templates', 'defaults', 'vars', 'meta'):
        for dirpath, dummy, files in os.walk(os.path.join(base, sub)):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, base)
                if rel == os.path.join('meta', 'argument_specs.yml'):
                    continue
                with open(path) as fh:
                    text = fh.read()
                yield rel, (yaml.safe_load(text) if name.endswith(('.yml', '.yaml')) else text)


def tasks_of(data):
    """Every task of a task list, blocks opened."""
    for task in data if isinstance(data, list) else []:
        if not isinstance(task, dict):
            continue
        yield task
        for section in ('block', 'rescue', 'always'):
            yield from tasks_of(task.get(section))


def values(data):
    """Every string value (not the keys: those are names being set) of a parsed YAML document."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, list):
        for item in data:
            yield from values(item)
    elif isinstance(data, dict):
        for value in data.values():
            yield from values(value)


def facts_set(role, root=ROOT):
    """Names a role sets on the hosts: set_fact keys and registered results."""
    found = set()
    for rel, data in role_files(role, root):
        if rel.split(os.sep)[0] not in ('tasks', 'handlers'):
            continue
        for task in tasks_of(data):
            if isinstance(task.get('register'), str):
                found.add(task['register'])
            for module in SET_FACT:
                if isinstance(task.get(module), dict):
                    found.update(k for k in task[module] if k != 'cacheable')
    return found


def foreign_reads(role, roles, root=ROOT):
    """(file, name) for every variable or fact of another role, or playbook variable outside the
    defaults, that the role reads."""
    others = set()
    for other in roles:
        if other != role:
            others |= facts_set(other, root)
    prefixes = tuple(p for other in roles if other != role for p in (other + '_', '_' + other + '_'))
    bad = []
    for rel, data in role_files(role, root):
        texts = [data] if isinstance(data, str) else values(data)
        for text in texts:
            for name in NAME.findall(text):
                if name in MAGIC:
                    continue
                if name in others or name.startswith(prefixes) or \
                        (name.startswith('patchops_') and rel != os.path.join('defaults', 'main.yml')):
                    bad.append((rel, name))
    return sorted(set(bad))


@pytest.mark.parametrize('role', ROLES)
def test_defaults_match_the_argument_spec(role):
    specs = entry_points(role)
    assert 'main' in specs, 'role %s has no meta/argument_specs.yml with a main entry point' % role
    defaults = load(role, 'defaults', 'main.yml') or {}
    main = specs['main'].get('options') or {}
    for name in defaults:
        assert name.startswith(role + '_'), '%s: default %s lacks the role prefix' % (role, name)
        assert name in main, '%s: default %s is not in the argument spec' % (role, name)
    for entry, spec in specs.items():
        for name, option in (spec.get('options') or {}).items():
            assert name.startswith(role + '_'), '%s %s: option %s lacks the role prefix' % (role, entry, name)
            if name in defaults and 'default' in option:
                value, declared = defaults[name], option['default']
                if isinstance(value, str) and '{{' in value:
                    continue  # computed at run time from other variables
                assert declared == value or str(declared) == str(value), \
                    '%s %s: %s is %r in defaults, %r in the argument spec' % (role, entry, name, value, declared)
            if 'default' in option and not option.get('required'):
                assert name in defaults, \
                    '%s %s: %s has a default in the argument spec but not in defaults/main.yml' % (role, entry, name)


@pytest.mark.parametrize('role', ROLES)
def test_reads_no_other_role_facts(role):
    assert foreign_reads(role, ROLES) == [], \
        '%s reads what it does not own: declare an input in its argument spec and pass it from the playbook' % role


def test_foreign_reads_are_found(tmp_path):
    """The check above can fail: a role reading another role's fact, or a playbook fact, is caught."""
    for role, tasks in (
            ('alpha', [{'name': 'Set', 'ansible.builtin.set_fact': {'alpha_done': True}, 'register': '_alpha_r'}]),
            ('beta', [{'name': 'Read', 'ansible.builtin.debug': {'msg': '{{ alpha_done }}'},
                       'when': "_alpha_r is changed and patchops_host_failed | default(false)"},
                      {'name': 'Own', 'ansible.builtin.debug': {'msg': '{{ beta_x }} {{ inventory_hostname }}'}}])):
        os.makedirs(str(tmp_path / 'roles' / role / 'tasks'))
        with open(str(tmp_path / 'roles' / role / 'tasks' / 'main.yml'), 'w') as fh:
            yaml.safe_dump(tasks, fh)
    got = foreign_reads('beta', ['alpha', 'beta'], root=str(tmp_path))
    assert got == [('tasks/main.yml', '_alpha_r'), ('tasks/main.yml', 'alpha_done'),
                   ('tasks/main.yml', 'patchops_host_failed')]
    assert foreign_reads('alpha', ['alpha', 'beta'], root=str(tmp_path)) == []


@pytest.mark.parametrize('role', ROLES)
def test_readme_lists_the_facts_set(role):
    with open(os.path.join(ROOT, 'roles', role, 'README.md')) as fh:
        readme = fh.read()
    assert '## Facts set' in readme, '%s: README.md has no "Facts set" section' % role
    section = readme.split('## Facts set', 1)[1].split('\n## ', 1)[0]
    for fact in sorted(facts_set(role)):
        if not fact.startswith('_'):
            assert '`%s`' % fact in section, '%s: README.md "Facts set" does not list %s' % (role, fact)


@pytest.mark.parametrize('role', ROLES)
def test_include_role_names_a_declared_entry_point(role):
    for rel, data in role_files(role):
        if not rel.startswith(('tasks', 'handlers')):
            continue
        for task in tasks_of(data):
            for module in INCLUDE_ROLE:
                args = task.get(module)
                if not isinstance(args, dict) or not str(args.get('name', '')).startswith('patchops.containers.'):
                    continue
                target = args['name'].split('.')[-1]
                entry = os.path.splitext(args.get('tasks_from', 'main'))[0]
                specs = entry_points(target)
                assert entry in specs, '%s %s: %s has no entry point %s' % (role, rel, target, entry)
                declared = specs[entry].get('options') or {}
                for name in task.get('vars') or {}:
                    assert name in declared, '%s %s: %s is not an option of %s %s' % (role, rel, name, target, entry)


def engine_options():
    with open(os.path.join(ROOT, 'plugins', 'doc_fragments', 'engine.py')) as fh:
        text = fh.read()
    doc = yaml.safe_load(text.split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
    return sorted(doc['options'])


def test_docker_action_group_lists_every_engine_module():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as fh:
        group = yaml.safe_load(fh)['action_groups']['docker']
    modules = os.path.join(ROOT, 'plugins', 'modules')
    engine = []
    for name in sorted(os.listdir(modules)):
        with open(os.path.join(modules, name)) as fh:
            if 'patchops.containers.engine' in fh.read():
                engine.append(os.path.splitext(name)[0])
    assert engine and sorted(group) == engine


def uses_collection(play):
    if play.get('roles'):
        return True
    text = yaml.safe_dump(play.get('tasks') or [])
    names = ('pretest', 'rollout', 'posttest', 'rollback', 'report', 'stage', 'build', 'inventory', 'container_', 'image_')
    return any('patchops.containers.' + m in text for m in names)


@pytest.mark.parametrize('playbook', PLAYBOOKS)
def test_plays_set_the_engine_connection_from_the_knobs(playbook):
    # patchops_docker_<option>, docker_host as patchops_docker_host
    expected = dict((o, '{{ patchops_docker_%s | default(omit) }}' % re.sub('^docker_', '', o)) for o in engine_options())
    with open(os.path.join(ROOT, 'playbooks', playbook)) as fh:
        plays = yaml.safe_load(fh)
    checked = 0
    for play in plays:
        if not uses_collection(play):
            continue
        got = (play.get('module_defaults') or {}).get('group/patchops.containers.docker')
        assert got == expected, '%s, play %r: module_defaults for the docker group should be %r' % (
            playbook, play.get('name'), expected)
        checked += 1
    assert checked, '%s runs no role of the collection' % playbook
