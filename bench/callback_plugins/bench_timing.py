# -*- coding: utf-8 -*-
# Copyright: patchops.containers contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bench-only callback: wall-clock time of every task start and every host result, written as
JSON to $BENCH_TIMING_OUT when the playbook ends. Not part of the collection."""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: Task and host timestamps for bench/ (not part of the collection)
description:
  - Records when each task starts and when each host's result (and each loop item) arrives,
    with the result, and writes them to the file named by E(BENCH_TIMING_OUT).
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = os.environ.get('BENCH_TIMING_OUT')
        self._events = []

    def _add(self, event, task=None, host=None, result=None):
        item = {'event': event, 't': time.time()}
        if task is not None:
            item['task'] = task.get_name()
            item['uuid'] = task._uuid
        if host is not None:
            item['host'] = host
        if result is not None:
            try:
                item['res'] = json.loads(self._dump_results(result._result, indent=0))
            except Exception as exc:  # a result we cannot serialise still gets its timestamp
                item['res'] = {'_bench_unserialisable': str(exc)}
        self._events.append(item)

    def v2_playbook_on_play_start(self, play):
        self._events.append({'event': 'play_start', 't': time.time(), 'play': play.get_name()})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._add('task_start', task)

    def v2_runner_on_start(self, host, task):
        self._add('host_start', task, host.get_name())

    def _result(self, status, result):
        self._add(status, result._task, result._host.get_name(), result)

    def v2_runner_on_ok(self, result):
        self._result('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result('failed', result)

    def v2_runner_on_unreachable(self, result):
        self._result('unreachable', result)

    def v2_runner_on_skipped(self, result):
        self._result('skipped', result)

    def v2_runner_item_on_ok(self, result):
        self._result('item_ok', result)

    def v2_runner_item_on_failed(self, result):
        self._result('item_failed', result)

    def v2_playbook_on_stats(self, stats):
        self._events.append({'event': 'stats', 't': time.time()})
        if self._out:
            with open(self._out, 'w') as fh:
                json.dump(self._events, fh)
