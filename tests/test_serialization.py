"""Job arguments must come back from the database exactly as delay() got them."""
import datetime
import enum
import json
import math
import time
from collections import OrderedDict
from decimal import Decimal

import pytest

from odoo.addons.background_job.engine import serialization

SUPPORTED = (
    '(supported: None, bool, int, float, str, list, tuple, dict, set, frozenset, '
    'datetime.date, datetime.datetime, recordsets)'
)


class FakeRecords:
    """Just what serialization relies on from an Odoo recordset."""

    def __init__(self, model, ids):
        self._name = model
        self.ids = list(ids)

    def __eq__(self, other):
        return (
            isinstance(other, FakeRecords)
            and (self._name, self.ids) == (other._name, other.ids)
        )

    def __hash__(self):
        return hash((self._name, tuple(self.ids)))

    def __repr__(self):
        return f'{self._name}{tuple(self.ids)}'


class RecordingBrowse:
    """browse(model, ids) stub that remembers every call."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, ids):
        self.calls.append((model, ids))
        return FakeRecords(model, ids)


def round_trip(value):
    return serialization.loads(serialization.dumps(value), RecordingBrowse())


def assert_same(restored, original):
    """Equal *and* of the same types all the way down (1 == True == 1.0)."""
    assert restored == original
    assert type(restored) is type(original)
    if isinstance(original, (list, tuple)):
        for restored_item, original_item in zip(restored, original):
            assert_same(restored_item, original_item)
    elif isinstance(original, dict):
        assert list(restored) == list(original)  # key order and key types
        for key in original:
            assert [type(k) for k in restored if k == key] == [type(key)]
            assert_same(restored[key], original[key])
    elif isinstance(original, (set, frozenset)):
        assert sorted(map(repr, restored)) == sorted(map(repr, original))


def error_message(*args, **kwargs):
    with pytest.raises(TypeError) as caught:
        serialization.dumps_arguments(
            args, kwargs, describe='res.partner.send_reminder')
    return str(caught.value)


# --- round trips ----------------------------------------------------------

@pytest.mark.parametrize('value', [
    None, True, False, 0, -7, 2 ** 100, 1.5, -0.0, 1e-300, 0.1 + 0.2,
    '', 'plain', 'accents éü€ and 漢字 and emoji 🎉', 'quote " back\\slash \n',
])
def test_scalars_round_trip_with_their_exact_type(value):
    restored = round_trip(value)
    assert_same(restored, value)
    if isinstance(value, float):
        assert math.copysign(1, restored) == math.copysign(1, value)


def test_bools_stay_bools_not_ints():
    value = [True, False, 1, 0, {'flag': True}, (False,)]
    assert_same(round_trip(value), value)


def test_tuples_stay_tuples_inside_lists():
    value = [(1, 2), [3, (4, (5,))], ()]
    assert_same(round_trip(value), value)


def test_lists_stay_lists_inside_tuples():
    value = ([1, [2]], [])
    assert_same(round_trip(value), value)


def test_int_keys_stay_int():
    value = {1: 'one', 2: 'two', -3: 'minus three'}
    restored = round_trip(value)
    assert_same(restored, value)
    assert restored[1] == 'one'
    assert '1' not in restored


@pytest.mark.parametrize('value', [
    {1: 'int', '1': 'str'},
    {True: 'bool', 2: 'int', None: 'none', 1.5: 'float'},
    {(1, 'a'): 'tuple key', frozenset({1, 2}): 'frozenset key'},
    {datetime.date(2026, 11, 22): 'date key'},
    {'__type__': 'date', 'value': 'not a date'},
    {'a': {1: {(2,): [3]}}},
])
def test_non_string_key_dicts_round_trip_exactly(value):
    assert_same(round_trip(value), value)


def test_string_key_dicts_are_stored_as_readable_json_objects():
    value = {'partner': 'Azure', 'limit': 10, 'nested': {'ok': [1, None]}}
    assert json.loads(serialization.dumps(value)) == value
    assert_same(round_trip(value), value)


def test_dict_key_order_is_kept():
    value = {'z': 1, 'a': 2, 'm': 3}
    assert list(round_trip(value)) == ['z', 'a', 'm']


def test_dict_subclass_such_as_odoo_context_is_stored_as_dict():
    context = OrderedDict([('lang', 'fr_BE'), ('tz', 'Europe/Brussels')])
    restored = round_trip(context)
    assert restored == dict(context)
    assert type(restored) is dict


@pytest.mark.parametrize('value', [
    set(), {1, 2, 3}, {'b', 'a'}, frozenset(), frozenset({(1, 2), (0, 5)}),
    {1, 'mixed', (2,)},  # not sortable: still round-trips
])
def test_sets_stay_sets(value):
    assert_same(round_trip(value), value)


def test_equal_sets_give_equal_json():
    # 8 and 16 collide in a small set's hash table, so insertion order
    # decides iteration order: {8, 16} and {16, 8} iterate differently.
    assert list({8, 16}) != list({16, 8})
    assert serialization.dumps({8, 16}) == serialization.dumps({16, 8}) \
        == '{"__type__":"set","items":[8,16]}'
    assert serialization.dumps(frozenset({16, 8})) == '{"__type__":"frozenset","items":[8,16]}'


@pytest.mark.parametrize('value', [
    datetime.date(2026, 11, 22),
    datetime.date(1, 1, 1),
    datetime.datetime(2026, 11, 22, 10, 30),
    datetime.datetime(2026, 11, 22, 10, 30, 15, 123456),
    datetime.datetime(2026, 11, 22, 23, 59, 59, 1, tzinfo=datetime.timezone.utc),
])
def test_dates_and_datetimes_round_trip(value):
    assert_same(round_trip(value), value)


@pytest.mark.parametrize('offset', [
    datetime.timedelta(hours=5, minutes=30),
    datetime.timedelta(hours=-8),
    datetime.timedelta(0),
])
def test_tz_aware_datetime_keeps_offset_and_microseconds(offset):
    value = datetime.datetime(2026, 3, 29, 1, 59, 59, 999999,
                              tzinfo=datetime.timezone(offset))
    restored = round_trip(value)
    assert restored == value
    assert restored.utcoffset() == offset
    assert restored.microsecond == 999999
    assert restored.replace(tzinfo=None) == value.replace(tzinfo=None)


def test_naive_datetime_stays_naive():
    restored = round_trip(datetime.datetime(2026, 1, 1, 8, 0))
    assert restored.tzinfo is None


def test_date_is_not_confused_with_datetime():
    assert type(round_trip(datetime.date(2026, 1, 1))) is datetime.date
    assert type(round_trip(datetime.datetime(2026, 1, 1))) is datetime.datetime


def test_recordset_is_rebuilt_through_browse_with_ids_in_order():
    browse = RecordingBrowse()
    text = serialization.dumps(FakeRecords('res.partner', [7, 3, 5]))
    restored = serialization.loads(text, browse)
    assert browse.calls == [('res.partner', [7, 3, 5])]
    assert restored == FakeRecords('res.partner', [7, 3, 5])


def test_empty_recordset_round_trips():
    browse = RecordingBrowse()
    restored = serialization.loads(
        serialization.dumps(FakeRecords('res.users', [])), browse)
    assert browse.calls == [('res.users', [])]
    assert restored.ids == []


def test_recordset_with_tuple_ids_is_accepted():
    records = FakeRecords('res.partner', [])
    records.ids = (4, 2)
    assert round_trip(records).ids == [4, 2]


def test_unsaved_records_are_rejected():
    new_records = FakeRecords('res.partner', [1, object()])
    message = error_message(new_records)
    assert message.startswith(
        'cannot store argument #1 of res.partner.send_reminder: '
        'recordset res.partner contains records that are not saved in the database')


def test_deep_nesting_of_every_type_round_trips():
    browse = RecordingBrowse()
    tz = datetime.timezone(datetime.timedelta(hours=2))
    value = {
        'partners': FakeRecords('res.partner', [1, 2]),
        'plan': [
            (1, 'a', None, True, 2.5),
            {3: {('x', 4): frozenset({'p', 'q'})}},
            {'when': [datetime.date(2026, 11, 22),
                      datetime.datetime(2026, 11, 22, 9, 0, 0, 42, tzinfo=tz)]},
            [[[[[({'deep': {FakeRecords('res.users', [9])}},)]]]]],
        ],
        'tags': {1, 2},
    }
    restored = serialization.loads(serialization.dumps(value), browse)
    assert_same(restored, value)
    assert sorted(browse.calls) == [('res.partner', [1, 2]), ('res.users', [9])]


def test_very_deep_but_finite_nesting_round_trips():
    value = 'leaf'
    for depth in range(200):
        value = [value] if depth % 2 else (value,)
    assert_same(round_trip(value), value)


# --- arguments --------------------------------------------------------------

def test_arguments_round_trip_as_tuple_and_dict():
    browse = RecordingBrowse()
    args = (FakeRecords('res.partner', [1]), 42, [1, (2, 3)], {4: 'four'})
    kwargs = {'when': datetime.date(2026, 11, 22), 'force': True}
    args_json, kwargs_json = serialization.dumps_arguments(args, kwargs)
    restored_args, restored_kwargs = serialization.loads_arguments(
        args_json, kwargs_json, browse)
    assert_same(restored_args, args)
    assert_same(restored_kwargs, kwargs)
    assert browse.calls == [('res.partner', [1])]


def test_arguments_are_a_json_list_and_a_json_object():
    args_json, kwargs_json = serialization.dumps_arguments(
        (1, 'two'), {'three': 3})
    assert args_json == '[1,"two"]'
    assert kwargs_json == '{"three":3}'


def test_no_arguments():
    assert serialization.dumps_arguments((), {}) == ('[]', '{}')
    assert serialization.loads_arguments('[]', '{}', RecordingBrowse()) == ((), {})


def test_keyword_argument_named_like_the_reserved_key_round_trips():
    kwargs = {'__type__': 'date', 'value': 'x'}
    args_json, kwargs_json = serialization.dumps_arguments((), kwargs)
    _args, restored = serialization.loads_arguments(
        args_json, kwargs_json, RecordingBrowse())
    assert_same(restored, kwargs)


def test_non_ascii_keyword_argument_name_round_trips():
    kwargs = {'prénom': 'Zoé'}
    args_json, kwargs_json = serialization.dumps_arguments((), kwargs)
    assert kwargs_json == '{"prénom":"Zoé"}'
    assert serialization.loads_arguments(args_json, kwargs_json, RecordingBrowse())[1] == kwargs


def test_stored_positional_arguments_must_be_a_list():
    with pytest.raises(ValueError, match='not a JSON list'):
        serialization.loads_arguments('{}', '{}', RecordingBrowse())


def test_stored_keyword_arguments_must_be_an_object():
    with pytest.raises(ValueError, match='not a JSON object'):
        serialization.loads_arguments('[]', '[]', RecordingBrowse())


# --- encoding format --------------------------------------------------------

def test_documented_encoding_format():
    tz = datetime.timezone(datetime.timedelta(hours=1))
    value = [
        (1, 2), {3}, frozenset({'b', 'a'}), {1: 'x'},
        datetime.date(2026, 11, 22),
        datetime.datetime(2026, 11, 22, 10, 30, 0, 123, tzinfo=tz),
        FakeRecords('res.partner', [1, 2]),
    ]
    assert json.loads(serialization.dumps(value)) == [
        {'__type__': 'tuple', 'items': [1, 2]},
        {'__type__': 'set', 'items': [3]},
        {'__type__': 'frozenset', 'items': ['a', 'b']},
        {'__type__': 'dict', 'items': [[1, 'x']]},
        {'__type__': 'date', 'value': '2026-11-22'},
        {'__type__': 'datetime', 'value': '2026-11-22T10:30:00.000123+01:00'},
        {'__type__': 'records', 'model': 'res.partner', 'ids': [1, 2]},
    ]


def test_output_is_compact_and_keeps_non_ascii_characters():
    assert serialization.dumps({'a': [1, 2], 'b': 'é'}) == '{"a":[1,2],"b":"é"}'


def test_unknown_type_tag_is_refused_on_load():
    with pytest.raises(ValueError, match="unknown __type__ 'complex'"):
        serialization.loads('{"__type__":"complex","value":"1j"}', RecordingBrowse())


# --- errors -----------------------------------------------------------------

def test_unsupported_keyword_argument_is_named():
    assert error_message(when=Decimal('1.5')) == (
        "cannot store argument 'when' of res.partner.send_reminder: "
        f"object of type Decimal is not serializable {SUPPORTED}")


def test_unsupported_positional_argument_is_numbered_from_one():
    assert error_message(1, b'raw') == (
        'cannot store argument #2 of res.partner.send_reminder: '
        f'object of type bytes is not serializable {SUPPORTED}')


def test_nested_unsupported_value_gives_its_path():
    message = error_message(options={'limit': [object()]})
    assert message == (
        "cannot store argument 'options'['limit'][0] of res.partner.send_reminder: "
        f'object of type object is not serializable {SUPPORTED}')


@pytest.mark.parametrize('value, path', [
    ([1, (2, [3, Decimal(4)])], "argument 'x'[1][1][1]"),
    ({5: {'inner': Decimal(1)}}, "argument 'x'[5]['inner']"),
    ({(1, Decimal(2)): 'v'}, "argument 'x'<key (1, Decimal('2'))>[1]"),
    ([{Decimal(1)}], "argument 'x'[0]{...}"),
])
def test_paths_through_every_container(value, path):
    assert error_message(x=value).startswith(
        f'cannot store {path} of res.partner.send_reminder: object of type Decimal')


@pytest.mark.parametrize('value', [float('nan'), float('inf'), float('-inf')])
def test_non_finite_floats_are_rejected(value):
    assert error_message(ratio=[value]) == (
        "cannot store argument 'ratio'[0] of res.partner.send_reminder: "
        f'float {value!r} is not valid JSON')


def test_lone_surrogate_is_rejected_before_reaching_the_database():
    message = error_message('ok', {'name': 'bad\udcff'})
    assert message == (
        "cannot store argument #2['name'] of res.partner.send_reminder: "
        'str contains a lone surrogate, which is not valid UTF-8')


def test_self_referencing_value_is_rejected_with_a_type_error():
    looping = []
    looping.append(looping)
    message = error_message(1, looping)
    assert message.startswith('cannot store argument #2 of res.partner.send_reminder: nested too deeply')


def test_non_string_keyword_name_is_rejected():
    with pytest.raises(TypeError, match=r"argument 3 of job: argument name 3 is not a str"):
        serialization.dumps_arguments((), {3: 'x'})


def test_bad_keyword_argument_fails_even_when_positional_ones_are_fine():
    with pytest.raises(TypeError, match="argument 'late'"):
        serialization.dumps_arguments((1, 2, 3), {'late': object()})


class Name(str):
    pass


class Priority(enum.IntEnum):
    HIGH = 1


@pytest.mark.parametrize('value', [Name('x'), Priority.HIGH])
def test_subclasses_of_scalars_are_rejected_rather_than_silently_changed(value):
    # They would come back as a plain str/int: not what the job was given.
    assert error_message(value).startswith(
        f'cannot store argument #1 of res.partner.send_reminder: '
        f'object of type {type(value).__name__} is not serializable')


def test_dumps_names_the_value_with_where():
    with pytest.raises(TypeError) as caught:
        serialization.dumps({'a': Decimal(1)}, where='result')
    assert str(caught.value) == (
        f"cannot store result['a']: object of type Decimal is not serializable {SUPPORTED}")


# --- speed ------------------------------------------------------------------

def test_encoding_small_arguments_is_fast_enough_for_thousands_of_jobs_per_second():
    args = (FakeRecords('res.partner', [1, 2]), 42, 'hello')
    kwargs = {'when': datetime.date(2026, 11, 22), 'options': {'limit': 10}}
    started = time.perf_counter()
    for _ in range(2000):
        serialization.dumps_arguments(args, kwargs, 'res.partner.send_reminder')
    # 2,000 jobs/s leaves 500 µs per job for everything; encoding must be a
    # small fraction of that even on a slow CI machine.
    assert time.perf_counter() - started < 0.25
