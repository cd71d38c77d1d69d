"""patch_run_batches: the batches a slice ran, recorded one at the end of each."""

from __future__ import annotations

from ansible_collections.patchops.containers.plugins.plugin_utils._report_rules import patch_run_batch


def test_batches_as_they_ran():
    every = ['a', 'b', 'c', 'd', 'e']
    # serial [1, 2, ...]: batch 1 is a; b, c wait (still in the play, not in the batch)
    first = patch_run_batch([], every, every, ['a'])
    assert first == [['a']]
    # batch 2: b failed during it (out of the play), c is still in it
    second = patch_run_batch(first, every, ['a', 'c', 'd', 'e'], ['c'])
    assert second == [['a'], ['b', 'c']]
    # batch 3: d and e, e unreachable; b, failed earlier, stays in batch 2
    assert patch_run_batch(second, every, ['a', 'c', 'd'], ['d']) == [['a'], ['b', 'c'], ['d', 'e']]


def test_nothing_new_adds_no_batch():
    assert patch_run_batch([['a']], ['a'], ['a'], ['a']) == [['a']]
    assert patch_run_batch(None, [], [], []) == []
