"""How often and how soon a failed job runs again.

``retry_count`` is the number of retries already done: 0 when the job fails
for the first time, so the pattern key for that failure is 1.
"""
import dataclasses
import types

import pytest

from odoo.addons.background_job.engine.retry import (
    BASE_DELAY_SECONDS, DEFAULT_MAX_RETRIES, MAX_DELAY_SECONDS, RetryPolicy,
)


# --- how many retries ---------------------------------------------------------

def test_default_policy_retries_five_times():
    policy = RetryPolicy()
    assert DEFAULT_MAX_RETRIES == 5
    assert [policy.can_retry(count) for count in range(8)] == [
        True, True, True, True, True, False, False, False]


def test_zero_max_retries_fails_at_the_first_error():
    policy = RetryPolicy(max_retries=0)
    assert policy.can_retry(0) is False
    assert policy.can_retry(3) is False


def test_one_retry_means_two_attempts():
    policy = RetryPolicy(max_retries=1)
    assert policy.can_retry(0) is True
    assert policy.can_retry(1) is False


# --- how long to wait -----------------------------------------------------------

def test_default_backoff_doubles_from_ten_seconds_up_to_an_hour():
    policy = RetryPolicy()
    assert (BASE_DELAY_SECONDS, MAX_DELAY_SECONDS) == (10, 3600)
    assert [policy.delay_for(count) for count in range(12)] == [
        10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]


def test_backoff_stays_capped_for_huge_retry_counts():
    assert RetryPolicy(max_retries=10 ** 6).delay_for(10 ** 6) == 3600


def test_pattern_largest_key_not_above_the_failure_number_applies():
    policy = RetryPolicy(max_retries=10, pattern={1: 10, 5: 60})
    # failures 1..4 -> 10 s, failure 5 and later -> 60 s
    assert [policy.delay_for(count) for count in range(8)] == [
        10, 10, 10, 10, 60, 60, 60, 60]


def test_pattern_order_does_not_matter():
    unordered = RetryPolicy(pattern={10: 600, 1: 5, 3: 30})
    assert [unordered.delay_for(count) for count in range(12)] == [
        5, 5, 30, 30, 30, 30, 30, 30, 30, 600, 600, 600]


def test_failures_before_the_first_pattern_key_use_default_backoff():
    policy = RetryPolicy(pattern={3: 300})
    assert [policy.delay_for(count) for count in range(4)] == [10, 20, 300, 300]


def test_pattern_delay_may_be_zero_for_an_immediate_retry():
    assert RetryPolicy(pattern={1: 0}).delay_for(0) == 0


def test_empty_pattern_behaves_like_no_pattern():
    assert RetryPolicy(pattern={}) == RetryPolicy()
    assert RetryPolicy(pattern={}).delay_for(2) == 40


def test_requested_delay_wins_over_the_schedule():
    policy = RetryPolicy(pattern={1: 10})
    assert policy.next_delay(0, requested=120) == 120
    assert policy.next_delay(0, requested=0) == 0
    assert policy.next_delay(4, requested=5) == 5


def test_without_request_next_delay_follows_the_schedule():
    policy = RetryPolicy(pattern={1: 10, 5: 60})
    assert policy.next_delay(0, None) == 10
    assert policy.next_delay(4) == 60
    assert RetryPolicy().next_delay(2) == 40


def test_fractional_requested_delay_is_rounded_up_never_early():
    assert RetryPolicy().next_delay(0, requested=0.2) == 1
    assert RetryPolicy().next_delay(0, requested=2.0) == 2


@pytest.mark.parametrize('requested', [-1, -0.5, float('nan'), float('inf'), '10', True])
def test_invalid_requested_delay_is_refused(requested):
    with pytest.raises(ValueError, match='requested retry delay must be seconds >= 0'):
        RetryPolicy().next_delay(0, requested)


@pytest.mark.parametrize('method', ['can_retry', 'delay_for', 'next_delay'])
@pytest.mark.parametrize('count', [-1, 1.0, '1', None, False])
def test_retry_count_must_be_a_non_negative_int(method, count):
    with pytest.raises(ValueError, match=r'retry_count must be an int >= 0, got '):
        getattr(RetryPolicy(), method)(count)


# --- validation -------------------------------------------------------------------

@pytest.mark.parametrize('max_retries, message', [
    (-1, 'max_retries must be 0 (never retry) or more, got -1'),
    (2.0, 'max_retries must be an int, got 2.0'),
    ('3', "max_retries must be an int, got '3'"),
    (True, 'max_retries must be an int, got True'),
    (None, 'max_retries must be an int, got None'),
])
def test_invalid_max_retries_is_refused(max_retries, message):
    with pytest.raises(ValueError) as caught:
        RetryPolicy(max_retries=max_retries)
    assert str(caught.value) == message


@pytest.mark.parametrize('pattern, message', [
    ({0: 10}, 'retry pattern keys must be failure numbers (ints >= 1), got 0'),
    ({-2: 10}, 'retry pattern keys must be failure numbers (ints >= 1), got -2'),
    ({1.5: 10}, 'retry pattern keys must be failure numbers (ints >= 1), got 1.5'),
    ({True: 10}, 'retry pattern keys must be failure numbers (ints >= 1), got True'),
    ({'1': 10}, "retry pattern keys must be failure numbers (ints >= 1), got '1'; "
                'use RetryPolicy.from_config() for keys read from JSON'),
    ({1: -1}, 'retry pattern delay for key 1 must be a number of seconds (int >= 0), got -1'),
    ({1: 2.5}, 'retry pattern delay for key 1 must be a number of seconds (int >= 0), got 2.5'),
    ([(1, 10)], 'retry pattern must be a mapping, got list'),
])
def test_invalid_pattern_is_refused(pattern, message):
    with pytest.raises(ValueError) as caught:
        RetryPolicy(pattern=pattern)
    assert str(caught.value) == message


# --- from_config ------------------------------------------------------------------

def test_from_config_accepts_string_keys_and_numbers_from_json():
    policy = RetryPolicy.from_config('7', {'1': 10, '5': '60'})
    assert policy == RetryPolicy(7, {1: 10, 5: 60})
    assert [policy.delay_for(count) for count in (0, 3, 4)] == [10, 10, 60]


def test_from_config_defaults():
    assert RetryPolicy.from_config() == RetryPolicy()
    assert RetryPolicy.from_config(None, None) == RetryPolicy(5)
    assert RetryPolicy.from_config(2) == RetryPolicy(2)


@pytest.mark.parametrize('max_retries, pattern, message', [
    ('many', None, "max_retries must be an integer, got 'many'"),
    (3, {'first': 10}, "retry pattern key 'first' must be an integer, got 'first'"),
    (3, {'1': 'soon'}, "retry pattern delay for key '1' must be an integer, got 'soon'"),
    (3, {'0': 10}, 'retry pattern keys must be failure numbers (ints >= 1), got 0'),
    (3, {'1': '-10'}, 'retry pattern delay for key 1 must be a number of seconds (int >= 0), got -10'),
    (3, {'1': 10, 1: 20}, "retry pattern gives key 1 more than once (e.g. as 1 and '1')"),
    (-1, {'1': 10}, 'max_retries must be 0 (never retry) or more, got -1'),
    (3, '{"1": 10}', 'retry pattern must be a mapping, got str'),
])
def test_from_config_refuses_bad_values_clearly(max_retries, pattern, message):
    with pytest.raises(ValueError) as caught:
        RetryPolicy.from_config(max_retries, pattern)
    assert str(caught.value) == message


# --- value semantics --------------------------------------------------------------

def test_policy_is_immutable():
    policy = RetryPolicy(3, {1: 10})
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_retries = 10
    with pytest.raises(TypeError):
        policy.pattern[1] = 99


def test_changing_the_callers_dict_does_not_change_the_policy():
    pattern = {1: 10}
    policy = RetryPolicy(pattern=pattern)
    pattern[1] = 999
    pattern[2] = 999
    assert policy.delay_for(0) == 10
    assert policy.delay_for(1) == 10
    assert isinstance(policy.pattern, types.MappingProxyType)


def test_equal_policies_compare_and_hash_equal():
    first = RetryPolicy(3, {5: 60, 1: 10})
    second = RetryPolicy(3, {1: 10, 5: 60})
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, RetryPolicy(3)}) == 2
    assert first != RetryPolicy(3, {1: 10, 5: 61})
    assert first != RetryPolicy(4, {1: 10, 5: 60})


def test_repr_shows_the_configuration():
    assert repr(RetryPolicy(2, {1: 10})) == (
        'RetryPolicy(max_retries=2, pattern=mappingproxy({1: 10}))')
