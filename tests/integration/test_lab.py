"""The lab itself: distinct engines per host over SSH, registry with TLS and auth."""

import subprocess


def test_each_host_has_its_own_engine_over_ssh(lab):
    assert len(lab.hosts) >= 3
    ids = {}
    for host in lab.hosts:
        out = lab.ssh(host, "hostname; docker info --format '{{.ID}}'").stdout.split()
        assert out[0] == host
        ids[host] = out[1]
    assert len(set(ids.values())) == len(lab.hosts), ids


def test_registry_needs_credentials_and_tls(lab, uid):
    host = lab.hosts[0]
    lab.pull(host, 'v1')
    target = '%s/patchops/scratch:%s' % (lab.registry, uid)
    cfg = '/tmp/patchops-dc-' + uid
    lab.ssh(host, 'docker tag %s %s' % (lab.image('v1'), target))
    try:
        anon = lab.ssh(host, 'DOCKER_CONFIG=%s docker push %s' % (cfg, target), check=False)
        assert anon.returncode != 0
        assert 'no basic auth credentials' in anon.stderr + anon.stdout

        login = lab.ssh(host, 'printf %%s %s | DOCKER_CONFIG=%s docker login -u %s --password-stdin %s'
                        % (lab.registry_password, cfg, lab.registry_user, lab.registry), check=False)
        assert login.returncode == 0, login.stderr
        pushed = lab.ssh(host, 'DOCKER_CONFIG=%s docker push %s' % (cfg, target), check=False)
        assert pushed.returncode == 0, pushed.stderr

        wrong = lab.ssh(host, 'printf wrong | DOCKER_CONFIG=%s-x docker login -u %s --password-stdin %s'
                        % (cfg, lab.registry_user, lab.registry), check=False)
        assert wrong.returncode != 0 and 'unauthorized' in wrong.stderr.lower()
    finally:
        lab.ssh(host, 'rm -rf %s %s-x; docker rmi %s' % (cfg, cfg, target), check=False)

    # TLS only, and the lab CA is what makes it trusted.
    plain = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
                            'http://%s/v2/' % lab.registry], capture_output=True, text=True, check=False)
    assert plain.stdout != '200'
    untrusted = subprocess.run(['curl', '-s', 'https://%s/v2/' % lab.registry], capture_output=True, check=False)
    assert untrusted.returncode == 60  # peer certificate cannot be authenticated
    trusted = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', lab.ca,
                              'https://%s/v2/' % lab.registry], capture_output=True, text=True, check=False)
    assert trusted.stdout == '401'
