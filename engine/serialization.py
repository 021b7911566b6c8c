"""Exact JSON round-trip of job arguments.

Job arguments are stored as JSON text in PostgreSQL and replayed later by a
worker, possibly after a restart, so whatever ``delay()`` receives must come
back *exactly*: a tuple stays a tuple, ``{1: 'a'}`` keeps its int key, a
tz-aware datetime keeps its offset, a recordset comes back as a recordset.

Plain JSON values (None, bool, int, float, str, list, dict with str keys) are
stored as themselves so the admin UI stays readable.  Everything else is a
JSON object tagged with the reserved key ``__type__``::

    {"__type__": "tuple", "items": [...]}
    {"__type__": "set", "items": [...]}            # also "frozenset"
    {"__type__": "dict", "items": [[key, value], ...]}
    {"__type__": "date", "value": "2026-11-22"}
    {"__type__": "datetime", "value": "2026-11-22T10:30:00.000123+01:00"}
    {"__type__": "records", "model": "res.partner", "ids": [1, 2]}

Unsupported values raise ``TypeError`` naming where they are (e.g.
``argument 'options'['limit'][0]``) *before* anything is returned, so a
caller never enqueues a job whose arguments cannot be replayed.

This module is pure Python on purpose (no Odoo import): it is the hot path of
``delay()`` and is unit-tested without a database.
"""
from __future__ import annotations

import datetime
import json
import math
import reprlib
from typing import Any, Callable

__all__ = ['dumps_arguments', 'loads_arguments', 'dumps', 'loads', 'storable_text', 'TYPE_KEY']

# Reserved key marking a typed JSON object.  Dunder-style so it cannot clash
# with ordinary data by accident; a user dict that does contain it is stored
# in the pair form instead, so it still round-trips.
TYPE_KEY = '__type__'

SUPPORTED_TYPES = (
    'None, bool, int, float, str, list, tuple, dict, set, frozenset, '
    'datetime.date, datetime.datetime, recordsets'
)

Browse = Callable[[str, list], Any]

# Compact output: these rows are numerous and the text is also shown in the
# UI, where non-ASCII characters must stay readable.
_json_encoder = json.JSONEncoder(
    separators=(',', ':'), ensure_ascii=False, allow_nan=False, check_circular=False,
)
_key_repr = reprlib.Repr()
_key_repr.maxstring = 40
_key_repr.maxother = 40


class _UnsupportedValue(Exception):
    """Raised deep in the walk; each container on the way up adds its path
    segment, so the path costs nothing unless an error actually happens."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []  # innermost first

    def path(self) -> str:
        return ''.join(reversed(self.segments))


# --------------------------------------------------------------------------
# Encoding: one recursive walk producing JSON-native values, then the C
# encoder.  Exact ``type()`` dispatch keeps ``bool`` apart from ``int`` and
# ``datetime`` apart from ``date``, and is faster than isinstance chains.
# --------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    value_type = type(value)
    if value_type is str:
        if not value.isascii():
            _require_utf8(value)
        return value
    if value_type is int or value_type is bool or value is None:
        return value
    if value_type is float:
        if not math.isfinite(value):
            # JSON has no NaN/Infinity; PostgreSQL's json parser rejects them.
            raise _UnsupportedValue(f'float {value!r} is not valid JSON')
        return value
    encoder = _ENCODERS.get(value_type)
    if encoder is not None:
        return encoder(value)
    return _encode_uncommon(value)


def _require_utf8(text: str) -> None:
    # Lone surrogates (e.g. from os.fsdecode) would only fail later, when
    # the row is written; catch them here so nothing gets enqueued.
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:
        raise _UnsupportedValue('str contains a lone surrogate, which is not valid UTF-8') from None


def _encode_list(value: list) -> list:
    encoded = []
    index = 0
    try:
        for index, item in enumerate(value):
            encoded.append(_encode(item))
    except _UnsupportedValue as error:
        error.segments.append(f'[{index}]')
        raise
    return encoded


def _encode_tuple(value: tuple) -> dict:
    return {TYPE_KEY: 'tuple', 'items': _encode_list(value)}


def _encode_set(value: set | frozenset) -> dict:
    try:
        # Sorted so that equal sets always give equal JSON text.
        items = sorted(value)
    except TypeError:
        items = list(value)  # mixed/unorderable items: iteration order
    try:
        encoded = [_encode(item) for item in items]
    except _UnsupportedValue as error:
        error.segments.append('{...}')  # set items have no address
        raise
    return {TYPE_KEY: type(value).__name__, 'items': encoded}


def _encode_dict(value: dict) -> dict:
    if TYPE_KEY not in value and all(type(key) is str for key in value):
        return _encode_plain_dict(value)
    return _encode_pair_dict(value)


def _encode_plain_dict(value: dict) -> dict:
    encoded = {}
    key = None
    try:
        for key, item in value.items():
            if not key.isascii():
                _require_utf8(key)
            encoded[key] = _encode(item)
    except _UnsupportedValue as error:
        error.segments.append(f'[{_key_repr.repr(key)}]')
        raise
    return encoded


def _encode_pair_dict(value: dict) -> dict:
    # JSON object keys can only be strings; a list of pairs keeps int,
    # tuple, ... keys exactly (and the reserved key harmless).
    pairs = []
    for key, item in value.items():
        try:
            encoded_key = _encode(key)
        except _UnsupportedValue as error:
            error.segments.append(f'<key {_key_repr.repr(key)}>')
            raise
        try:
            pairs.append([encoded_key, _encode(item)])
        except _UnsupportedValue as error:
            error.segments.append(f'[{_key_repr.repr(key)}]')
            raise
    return {TYPE_KEY: 'dict', 'items': pairs}


def _encode_date(value: datetime.date) -> dict:
    return {TYPE_KEY: 'date', 'value': value.isoformat()}


def _encode_datetime(value: datetime.datetime) -> dict:
    # isoformat() keeps microseconds (when non-zero) and the UTC offset.
    return {TYPE_KEY: 'datetime', 'value': value.isoformat()}


def _encode_uncommon(value: Any) -> Any:
    if isinstance(value, dict):
        # Mapping subclasses such as Odoo's frozendict (env.context) or
        # OrderedDict: stored and restored as a plain dict.
        return _encode_dict(value)
    if _is_recordset(value):
        return _encode_records(value)
    raise _UnsupportedValue(
        f'object of type {type(value).__name__} is not serializable '
        f'(supported: {SUPPORTED_TYPES})'
    )


def _is_recordset(value: Any) -> bool:
    # Duck-typed so this module never imports odoo; BaseModel has both.
    return (
        isinstance(getattr(value, '_name', None), str)
        and isinstance(getattr(value, 'ids', None), (list, tuple))
    )


def _encode_records(records: Any) -> dict:
    ids = list(records.ids)
    if not all(type(record_id) is int for record_id in ids):
        # New (onchange) records have NewId ids: they do not exist in the
        # database, so a worker could never browse them.
        raise _UnsupportedValue(
            f'recordset {records._name} contains records that are not saved '
            f'in the database (ids {_key_repr.repr(ids)})'
        )
    return {TYPE_KEY: 'records', 'model': records._name, 'ids': ids}


_ENCODERS: dict[type, Callable[[Any], Any]] = {
    list: _encode_list,
    tuple: _encode_tuple,
    dict: _encode_dict,
    set: _encode_set,
    frozenset: _encode_set,
    datetime.date: _encode_date,
    datetime.datetime: _encode_datetime,
}


def _to_json(encoded: Any) -> str:
    return _json_encoder.encode(encoded)


def _error(error: _UnsupportedValue, where: str, describe: str | None) -> TypeError:
    owner = f' of {describe}' if describe else ''
    return TypeError(f'cannot store {where}{error.path()}{owner}: {error.reason}')


def _too_deep(where: str, describe: str | None) -> TypeError:
    owner = f' of {describe}' if describe else ''
    return TypeError(
        f'cannot store {where}{owner}: nested too deeply (or contains a reference to itself)'
    )


# --------------------------------------------------------------------------
# Decoding: json's object_hook runs bottom-up, so by the time a tagged
# object is seen its items are already decoded.
# --------------------------------------------------------------------------

def _decode_tuple(obj: dict, browse: Browse) -> tuple:
    return tuple(obj['items'])


def _decode_set(obj: dict, browse: Browse) -> set:
    return set(obj['items'])


def _decode_frozenset(obj: dict, browse: Browse) -> frozenset:
    return frozenset(obj['items'])


def _decode_dict(obj: dict, browse: Browse) -> dict:
    return {key: value for key, value in obj['items']}


def _decode_date(obj: dict, browse: Browse) -> datetime.date:
    return datetime.date.fromisoformat(obj['value'])


def _decode_datetime(obj: dict, browse: Browse) -> datetime.datetime:
    return datetime.datetime.fromisoformat(obj['value'])


def _decode_records(obj: dict, browse: Browse) -> Any:
    return browse(obj['model'], list(obj['ids']))


_DECODERS: dict[str, Callable[[dict, Browse], Any]] = {
    'tuple': _decode_tuple,
    'set': _decode_set,
    'frozenset': _decode_frozenset,
    'dict': _decode_dict,
    'date': _decode_date,
    'datetime': _decode_datetime,
    'records': _decode_records,
}


def _object_hook(browse: Browse) -> Callable[[dict], Any]:
    def decode_object(obj: dict) -> Any:
        if TYPE_KEY not in obj:
            return obj
        tag = obj[TYPE_KEY]
        decoder = _DECODERS.get(tag)
        if decoder is None:
            # Corrupted or newer data: failing loudly beats running a job
            # with a silently wrong argument.
            raise ValueError(f'unknown {TYPE_KEY} {tag!r} in stored job arguments')
        return decoder(obj, browse)
    return decode_object


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------

def dumps(value: Any, where: str = 'value') -> str:
    """JSON text for ``value``; ``where`` names it in error messages."""
    try:
        return _to_json(_encode(value))
    except _UnsupportedValue as error:
        raise _error(error, where, None) from None
    except RecursionError:
        raise _too_deep(where, None) from None


def loads(text: str, browse: Browse) -> Any:
    """Rebuild a value stored by :func:`dumps`.

    ``browse(model_name, ids)`` turns stored recordsets back into records;
    the caller passes ``lambda model, ids: env[model].browse(ids)`` so the
    records get the worker's environment.
    """
    return json.loads(text, object_hook=_object_hook(browse))


def dumps_arguments(args: tuple, kwargs: dict, describe: str = 'job') -> tuple[str, str]:
    """JSON text for positional args (a JSON list) and keyword args (a JSON object).

    ``describe`` (e.g. ``'res.partner.send_reminder'``) only appears in error
    messages.  Positional arguments are named 1-based, like Python's own
    messages: ``argument #1`` is the first argument after the recordset.
    """
    return _dumps_args(args, describe), _dumps_kwargs(kwargs, describe)


def _dumps_args(args: tuple, describe: str) -> str:
    if not args:
        return '[]'  # common case; skips the JSON encoder's setup cost
    encoded = []
    number = 0
    try:
        for number, value in enumerate(args, start=1):
            encoded.append(_encode(value))
    except _UnsupportedValue as error:
        raise _error(error, f'argument #{number}', describe) from None
    except RecursionError:
        raise _too_deep(f'argument #{number}', describe) from None
    return _to_json(encoded)


def _dumps_kwargs(kwargs: dict, describe: str) -> str:
    if not kwargs:
        return '{}'
    encoded = {}
    name = None
    try:
        for name, value in kwargs.items():
            if type(name) is not str:
                raise _UnsupportedValue(f'argument name {_key_repr.repr(name)} is not a str')
            if not name.isascii():
                _require_utf8(name)
            encoded[name] = _encode(value)
    except _UnsupportedValue as error:
        raise _error(error, f'argument {_key_repr.repr(name)}', describe) from None
    except RecursionError:
        raise _too_deep(f'argument {_key_repr.repr(name)}', describe) from None
    if TYPE_KEY in encoded:
        # A parameter literally named like the reserved key: the pair form
        # keeps loads() from mistaking the kwargs object for a typed value.
        encoded = {TYPE_KEY: 'dict', 'items': [[key, value] for key, value in encoded.items()]}
    return _to_json(encoded)


def loads_arguments(
    args_json: str, kwargs_json: str, browse: Browse,
) -> tuple[tuple, dict]:
    """Rebuild ``(args, kwargs)`` stored by :func:`dumps_arguments`."""
    args = loads(args_json, browse)
    kwargs = loads(kwargs_json, browse)
    if not isinstance(args, list):
        raise ValueError(f'stored positional arguments are not a JSON list: {args_json[:80]!r}')
    if not isinstance(kwargs, dict):
        raise ValueError(f'stored keyword arguments are not a JSON object: {kwargs_json[:80]!r}')
    return tuple(args), kwargs


def storable_text(text: str) -> str:
    """``text`` as a PostgreSQL text column can hold it: NUL characters
    (which text refuses) and lone surrogates (which UTF-8 cannot encode)
    become backslash escapes, so a job's result or error never fails the
    statement that records it."""
    if '\x00' in text:
        text = text.replace('\x00', '\\x00')
    if not text.isascii():
        text = text.encode('utf-8', 'backslashreplace').decode('utf-8')
    return text
