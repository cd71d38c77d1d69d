# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How a container will stop: its PID 1, whether an init runs it, the stop signal and timeout, and
whether PID 1 handles that signal. The kernel does not apply a signal's default action to a PID
namespace's init: a PID 1 without a handler for the stop signal (a shell, a busybox applet, most
programs not written as an init) ignores it, and the engine kills it when the stop timeout runs out.

Private: not a public API of the collection.
"""

from __future__ import annotations

import os
import re
import signal

INITS = ('docker-init', 'tini', 'tini-static', 'dumb-init', 'catatonit', 's6-svscan', 'runsvdir', 'systemd',
         'init', 'supervisord', 'su-exec')
SHELLS = ('sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh', 'busybox')
KILLED_EXIT = 128 + 9


def signal_number(name):
    """Number of a stop signal as the engine accepts it ('SIGTERM', 'TERM', '15', 'SIGRTMIN+3'); None if unknown."""
    text = str(name or 'SIGTERM').strip().upper()
    if text.isdigit():
        return int(text)
    if not text.startswith('SIG'):
        text = 'SIG' + text
    match = re.match(r'^SIGRTMIN\+(\d+)$', text)
    if match and hasattr(signal, 'SIGRTMIN'):
        return int(signal.SIGRTMIN) + int(match.group(1))
    value = getattr(signal, text, None)
    return int(value) if isinstance(value, int) else None


def stop_settings(inspect, default_timeout):
    """(stop signal, stop timeout in s): the container's own (``--stop-signal``/``--stop-timeout``)
    where set, else SIGTERM and ``default_timeout``."""
    config = inspect.get('Config') or {}
    timeout = config.get('StopTimeout')
    return signal_name(config.get('StopSignal')), default_timeout if timeout is None else timeout


def signal_name(value):
    """A stop signal as people name it: Podman reports every container's as a number ('15')."""
    text = str(value or 'SIGTERM').strip()
    if text.isdigit():
        try:
            return signal.Signals(int(text)).name
        except ValueError:
            return text
    return text


def pid1(top):
    """(host PID, command line) of a container's first process, from the engine's ``top``; (None, None)."""
    titles = (top or {}).get('Titles') or []
    processes = (top or {}).get('Processes') or []
    try:
        pid_at, ppid_at = titles.index('PID'), titles.index('PPID')
    except ValueError:
        return None, None
    cmd_at = titles.index('CMD') if 'CMD' in titles else (titles.index('COMMAND') if 'COMMAND' in titles else -1)
    pids = {p[pid_at] for p in processes}
    roots = [p for p in processes if p[ppid_at] not in pids]
    if not roots:
        return None, None
    first = min(roots, key=lambda p: int(p[pid_at]) if str(p[pid_at]).isdigit() else 0)
    return first[pid_at], first[cmd_at] if cmd_at >= 0 else None


def local_pid1(inspect, read=None):
    """(host PID, command line) of a running container's PID 1 read from this machine's /proc, when
    ``State.Pid`` is that container's process here (its cgroup names the container: a local engine
    in this PID namespace); None otherwise. Much cheaper than the engine's ``top``, which runs ``ps``."""
    read = read or read_text
    pid = ((inspect or {}).get('State') or {}).get('Pid')
    if not container_process(pid, (inspect or {}).get('Id'), read):
        return None
    cmdline = read('/proc/%s/cmdline' % pid)
    if not cmdline:
        return None
    return str(pid), ' '.join(arg for arg in cmdline.split('\0') if arg)


def first_process(engine, inspect, read=None):
    """(host PID, command line) of a running container's PID 1: from /proc when the engine is local
    (see local_pid1), else from the engine's ``top``; (None, None) when neither can tell (the
    container stopped meanwhile, or the engine refuses)."""
    if not ((inspect or {}).get('State') or {}).get('Running'):
        return None, None
    found = local_pid1(inspect, read)
    if found:
        return found
    try:
        return pid1(engine.call('list processes of %s' % inspect['Id'][:12], engine.api.top, inspect['Id']))
    except Exception:  # a prediction only: a container that stops meanwhile has none
        return None, None


def container_process(pid, container_id, read=None, proc='/proc'):
    """Whether host process ``pid`` is container ``container_id``'s here: its cgroup names the
    container (a local engine, in this PID namespace)."""
    if not pid or not container_id:
        return False
    cgroup = (read or read_text)(os.path.join(proc, str(pid), 'cgroup'))
    return bool(cgroup) and container_id in cgroup


def read_text(path):
    try:
        with open(path) as fh:
            return fh.read()
    except (OSError, ValueError):
        return None


def handles_signal(pid, container_id, signum, read=read_text):
    """Whether host process ``pid`` handles ``signum``: a handler (its SigCgt mask) or the signal
    blocked to be read synchronously (SigBlk, as signalfd/sigwait users do); None when that process
    is not visible here as the container's (an engine on another machine) or unreadable."""
    if not signum or not container_process(pid, container_id, read):
        return None
    status = read('/proc/%s/status' % pid) or ''
    masks = dict(re.findall(r'^(SigCgt|SigBlk):\s*([0-9a-fA-F]+)\s*$', status, re.M))
    if 'SigCgt' not in masks:
        return None
    return any((int(masks[key], 16) >> (signum - 1)) & 1 for key in masks)


def _program(command):
    first = (command or '').split()
    return os.path.basename(first[0]) if first else ''


def predict(inspect, process, default_timeout, last_stop=None, read=read_text):
    """What stopping this container will do: {pid1, init, stop_signal, stop_timeout, handles_signal,
    kill_risk, kill_reason, expected_stop_s}. ``process`` is its PID 1 (first_process), ``last_stop``
    the journal's last swap of it."""
    sig, timeout = stop_settings(inspect, default_timeout)
    host_pid, command = process or (None, None)
    program = _program(command)
    init = bool((inspect.get('HostConfig') or {}).get('Init')) or program in INITS
    handles = handles_signal(host_pid, inspect.get('Id') or '', signal_number(sig), read) if host_pid else None
    if program in INITS:
        handles = True  # an init waits for signals and passes them on to its child
    reason = None
    if handles is False:
        reason = 'PID 1 (%s) has no handler for %s: as PID 1 it ignores it, and the engine kills it after %s s' % (
            command, sig, timeout)
    elif handles is None and not init and program in SHELLS:
        reason = 'PID 1 is a shell or busybox (%s) without an init: it usually ignores %s, and the engine kills ' \
                 'it after %s s' % (command, sig, timeout)
    if reason is None and (last_stop or {}).get('stopped_by') == 'kill':
        reason = 'at its last swap it did not exit on %s and was killed after %.1f s' % (
            last_stop.get('stop_signal') or sig, (last_stop.get('stop_waited_ms') or 0) / 1000.0)
    return {
        'pid1': command, 'init': init, 'stop_signal': sig, 'stop_timeout': timeout,
        'handles_signal': handles, 'kill_risk': reason is not None, 'kill_reason': reason,
        'expected_stop_s': timeout if reason else 0,
    }


def stopped_by(inspect, waited_s, timeout):
    """'kill' when the container exited killed after waiting out its stop timeout, else 'signal'."""
    state = (inspect or {}).get('State') or {}
    if state.get('ExitCode') == KILLED_EXIT and not state.get('OOMKilled') and waited_s >= max(0, timeout - 0.5):
        return 'kill'
    return 'signal'


def kill_advice(name, sig, waited_s, command):
    return ('container %s did not exit on %s and was killed after %.1f s (its stop timeout); PID 1 is %s. '
            'That is downtime on every swap and no clean shutdown: run it with --init (init: true), use an '
            'exec-form CMD, give it a stop_signal its program handles, a shorter stop_timeout, or start-first'
            % (name, sig, waited_s, command or 'unknown'))
