"""patch_run_hosts: one report from several slices."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_hosts


def test_one_play_lost_and_not_attempted():
    plays = [{'hosts_all': ['a', 'b', 'c', 'd'], 'hosts_left': ['a', 'c', 'd']}]
    records = [{'host': 'a'}]
    assert patch_run_hosts(records, plays) == {'total': 4, 'unreachable': ['b'], 'not_attempted': ['c', 'd']}


def test_slices_are_merged():
    plays = [{'hosts_all': ['lab1'], 'hosts_left': ['lab1']},
             {'hosts_all': ['lab2', 'lab3'], 'hosts_left': ['lab2']}]
    records = [{'host': 'lab1'}, {'host': 'lab2'}]
    assert patch_run_hosts(records, plays) == {'total': 3, 'unreachable': ['lab3'], 'not_attempted': []}
    # a host failed with a record (rolled back) is neither lost nor not attempted
    assert patch_run_hosts(records + [{'host': 'lab3'}], plays)['unreachable'] == []
    assert patch_run_hosts([], []) == {'total': 0, 'unreachable': [], 'not_attempted': []}
