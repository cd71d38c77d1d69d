import datetime

import pytest

from ansible_collections.patchops.containers.plugins.module_utils._window import WindowError, check

PARIS = {'weekdays': ['sat', 'sun'], 'start': '02:00', 'end': '05:00', 'timezone': 'Europe/Paris'}


def at(text):
    return datetime.datetime.fromisoformat(text)


@pytest.mark.parametrize('when, inside', [
    ('2026-11-29T01:30:00+00:00', True),   # Sunday 02:30 in Paris (UTC+1)
    ('2026-11-29T00:59:00+00:00', False),  # Sunday 01:59 Paris
    ('2026-11-29T04:00:00+00:00', False),  # Sunday 05:00 Paris: end is exclusive
    ('2026-11-30T01:30:00+00:00', False),  # Monday
    ('2026-07-05T00:30:00+00:00', True),   # Sunday 02:30 Paris in summer (UTC+2)
])
def test_weekend_night_window(when, inside):
    result = check(PARIS, at(when))
    assert result['open'] is inside
    assert ('inside' if inside else 'outside') in result['reason']
    assert 'Europe/Paris' in result['reason']


def test_window_crossing_midnight_belongs_to_the_start_day():
    window = {'weekdays': ['fri'], 'start': '22:00', 'end': '03:00', 'timezone': 'UTC'}
    assert check(window, at('2026-11-27T23:00:00+00:00'))['open']  # Friday 23:00
    assert check(window, at('2026-11-28T02:00:00+00:00'))['open']  # Saturday 02:00: Friday's window
    assert not check(window, at('2026-11-29T02:00:00+00:00'))['open']  # Sunday 02:00


def test_empty_window_is_always_open():
    assert check({})['open'] and check(None)['open']


@pytest.mark.parametrize('window, message', [
    ({'weekdays': ['someday']}, "weekday 'someday'"),
    ({'weekdays': 'sat'}, 'must be a list'),
    ({'start': '25:00'}, "start '25:00' is not a time"),
    ({'end': 'noon'}, "end 'noon' is not a time"),
    ({'timezone': 'Mars/Olympus'}, "'Mars/Olympus' is not a known IANA time zone"),
    ({'days': ['sat']}, 'unknown keys: days'),
    ('sundays', 'must be a dict'),
])
def test_bad_windows_name_the_problem(window, message):
    with pytest.raises(WindowError, match=message.replace('(', r'\(')):
        check(window)
