"""The run report is the engine's word: patch.yml reads back every container of the run from the
engine at the end, and the report names what the engine shows, even when that is not what the
modules did (a give-back sabotaged by an outside actor) or nothing at all (the engine stopped)."""

import http.server
import threading
import time

import pytest

from patchkit import patch_report, remove

HOSTS = []  # engine_hosts of the engine kind under test: on_engine


@pytest.fixture(scope='module', autouse=True)
def on_engine(engine_hosts):
    """Every test here runs once per engine kind, in that kind's shard (its tests run one after the
    other, so these hosts are this module's while it runs): the give-back on the second host, the
    engine stopped on the last, which the shard's other engine-stop tests stop too."""
    HOSTS[:] = engine_hosts


class Background(threading.Thread):
    def __init__(self, fn, *args, **kwargs):
        super().__init__(daemon=True)
        self.fn, self.args, self.kwargs, self.value, self.error = fn, args, kwargs, None, None

    def run(self):
        try:
            self.value = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:
            self.error = exc

    def result(self, timeout):
        self.join(timeout)
        assert not self.is_alive(), 'the playbook still runs after %ss' % timeout
        if self.error is not None:
            raise self.error
        return self.value


def run(lab, tmp_path, host, targets, **extra):
    return patch_report(lab, dict({
        'patchops_hosts': host,
        'patchops_targets': targets,
        'report_dir': str(tmp_path / 'reports'),
        'pretest_min_free_bytes': 1,
    }, **extra))


def engine_shows(api, name):
    """What the engine shows of a container, in the report's terms."""
    found = api.inspect_container(name)
    state = found['State']
    return {'state': state['Status'], 'id': found['Id'], 'image_id': found['Image'], 'image': found['Config']['Image'],
            'health': (state.get('Health') or {}).get('Status') if state['Status'] == 'running' else None}


def test_sabotaged_give_back_reported_as_the_engine_shows_it(lab, tmp_path, uid, engine_kind):
    """While the new (broken) container is verified, an outside actor removes the set-aside one: the
    give-back keeps the new container (kept_new); the report names it with the state, image and health
    the engine shows, and the host fails."""
    host = HOSTS[1]
    name = 'rb-' + uid
    api = lab.pull(host, 'v1', 'v2-broken')
    old = api.create_container(lab.image('v1'), name=name)['Id']
    api.start(old)
    removed = []

    def sabotage():
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not removed:
            try:
                aside = api.inspect_container(name + '-patchops-old')
            except Exception:  # not set aside yet
                time.sleep(0.05)
                continue
            api.remove_container(aside['Id'], force=True)
            removed.append(aside['Id'])

    saboteur = Background(sabotage)
    saboteur.start()
    try:
        runner, artifact, report, pages = run(lab, tmp_path, host, [{'name': name, 'image': lab.image('v2-broken')}],
                                              rollout_verify_timeout=60)
        saboteur.result(10)
        assert removed == [old]
        assert runner.rc != 0
        assert artifact['hosts']['failed'] == [host] and artifact['hosts']['patched'] == []
        assert artifact['containers']['kept_new'] == 1
        record = next(r for r in report['hosts'] if r['host'] == host)
        assert record['status'] == 'failed'
        # (Other containers may be in the record: interrupted swaps that another suite left on the host
        # and this run recovered first.)
        c, = [c for c in record['containers'] if c['container'] == name]
        shown = engine_shows(api, name)
        broken = api.inspect_image(lab.image('v2-broken'))['Id']
        assert shown['image_id'].split(':')[-1] == broken.split(':')[-1], (shown, broken)
        # Podman runs HEALTHCHECKs from systemd timers only (none in the lab): its status stays
        # "starting" (the module ran the check itself, _probe.own_healthcheck).
        health = 'starting' if engine_kind == 'podman' else 'unhealthy'
        assert (shown['state'], shown['health']) == ('running', health), shown
        assert c['outcome'] == 'kept_new' and 'module_outcome' not in c
        assert c['engine'] == shown
        assert (c['final_id'], c['final_image_id']) == (shown['id'], shown['image_id'])
        row = next(line for line in pages['report.md'].splitlines() if line.startswith('| %s | %s |' % (host, name)))
        assert '| kept_new | running %s image %s, %s |' % (
            shown['id'][:12], shown['image_id'].split(':')[-1][:12], shown['health']) in row
        assert 'kept new' in pages['report.html'] and shown['id'][:12] in pages['report.html']
    finally:
        saboteur.join(10)
        remove(api, name)


class _StopTheEngine(http.server.BaseHTTPRequestHandler):
    """A post-patch check on the controller: its first request stops the host's engine, then passes."""
    lab = host = None
    stopped = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        if not self.stopped:
            self.lab.lab('fault', 'engine-stop', self.host)
            self.stopped.append(time.monotonic())
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):
        pass


def test_engine_stopped_before_the_report_state_unknown_and_the_host_fails(lab, tmp_path, uid):
    """The engine stops after the rollout, while the post-patch checks run: the read-back cannot read
    it, so the report says the engine's state is unknown (every container unknown, the module's word
    beside it) and the host fails, though every module succeeded."""
    host = HOSTS[2]
    name = 'rb-' + uid
    api = lab.pull(host, 'v1', 'v2')
    api.start(api.create_container(lab.image('v1'), name=name))
    handler = type('Handler', (_StopTheEngine,), {'lab': lab, 'host': host, 'stopped': []})
    server = http.server.HTTPServer(('127.0.0.1', 0), handler)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        check = {'url': 'http://127.0.0.1:%d/' % server.server_address[1], 'timeout': 120, 'retries': 0}
        runner, artifact, report, pages = run(lab, tmp_path, host, [{'name': name, 'image': lab.image('v2')}],
                                              posttest_http_checks=[check])
        assert handler.stopped, runner.collected_stdout[-3000:]
        assert runner.rc != 0
        assert artifact['hosts']['failed'] == [host] and artifact['engine_unknown'] == [host]
        assert artifact['containers']['unknown'] == sum(artifact['containers'].values()) >= 1
        record = next(r for r in report['hosts'] if r['host'] == host)
        assert record['status'] == 'failed' and record['readback']['engine'] == 'unknown'
        assert "the engine could not be read after the run" in record['message']
        c, = [c for c in record['containers'] if c['container'] == name]
        assert (c['outcome'], c['module_outcome'], c['engine']) == ('unknown', 'patched', {'state': 'unknown'})
        assert 'Engine state unknown (the engine could not be read at the end of the run): %s' % host in pages['report.md']
        assert 'id="engine-unknown"' in pages['report.html']
        stopped = [e for e in runner.collected_events if e['event'] == 'runner_on_failed'
                   and e['event_data'].get('task') == 'Fail the host when its engine does not show what the run did']
        assert [e['event_data']['host'] for e in stopped] == [host]
    finally:
        server.shutdown()
        lab.lab('fault', 'engine-start', host)
        remove(lab.engine(host), name)
