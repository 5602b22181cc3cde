"""Validation of parsed rows before they are merged: every row is stored clean, or rejected with a reason.

The engine runs this between a dataset's parser and the merge, with the target table's columns read
from the catalogue once per run. Per value, by the column's type:

- text: NUL characters are removed and lone UTF-16 surrogates (``"\\ud800"``, legal in JSON text,
  refused by PostgreSQL) become U+FFFD — cleaned, the row is kept. A value longer than a btree index
  entry allows (:data:`MAX_INDEXED_BYTES`) in an indexed column, or longer than a ``varchar(n)``, is
  rejected; so is a dict or list (a wrong type).
- numbers: bools, dicts/lists, non-numeric text, NaN/infinity, integers outside the column's range
  and values too large for a ``numeric(p, s)`` are rejected.
- instants and dates: outside :data:`EARLIEST` … :data:`LATEST` (an epoch in milliseconds read as
  seconds, a far-future sentinel) or not a date at all: rejected.
- json/jsonb: nested deeper than :data:`MAX_JSON_DEPTH` is rejected; strings inside are cleaned.
- a key column (or a NOT NULL column without a default) holding None: rejected.

Rows whose rejection reason is recorded never reach the merge, so one hostile value costs one row,
never the item or the run. Pure given the column list (:func:`table_rules` reads it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import psycopg

from marketpipe.engine.registry import Row

#: A btree index entry holds at most ~2704 bytes (a third of an 8 KB page); keep a margin for the
#: other columns of a composite index.
MAX_INDEXED_BYTES = 2000
#: Nesting deeper than this in a json column is refused (PostgreSQL's own limit is far higher, but no
#: provider nests this deep: it is a hostile or broken reply).
MAX_JSON_DEPTH = 32
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

_INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ColumnRule:
    name: str
    typname: str
    category: str  # pg_type.typcategory: S string, N numeric, D date/time, B boolean, A array, U json...
    indexed: bool
    required: bool  # NOT NULL without a default
    max_chars: int | None = None  # varchar(n)
    max_digits: int | None = None  # numeric(p, s): digits before the point, p - s


@dataclass(frozen=True)
class Rejected:
    """A row that was not stored, and why (``reason`` names the column and the problem)."""

    reason: str
    row: Row = field(repr=False)

    @property
    def category(self) -> str:
        """The reason without the value-specific details (what the run ledger counts by)."""
        return self.reason.split(" (", 1)[0]


def table_rules(conn: psycopg.Connection, table: str, key: Sequence[str] = ()) -> dict[str, ColumnRule]:
    """The validation rules of ``table``'s columns, from the catalogue."""
    rows = conn.execute(
        """SELECT a.attname, t.typname, t.typcategory,
                  a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '',
                  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND a.attnum = ANY(i.indkey)),
                  CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END,
                  CASE WHEN t.typname = 'numeric' AND a.atttypmod > 4
                       THEN ((a.atttypmod - 4) >> 16) - ((a.atttypmod - 4) & 65535) END
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped""",
        (table,),
    ).fetchall()
    generated = {
        name
        for (name,) in conn.execute(
            """SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)
                  AND (atthasdef OR attidentity <> '' OR attgenerated <> '')""",
            (table,),
        ).fetchall()
    }
    rules = {
        name: ColumnRule(name, typname, category, bool(indexed), bool(required), max_chars, max_digits)
        for name, typname, category, required, indexed, max_chars, max_digits in rows
    }
    for name in key:  # a key is required even where the table would take a null (no PK constraint)
        if name in rules and name not in generated:
            rule = rules[name]
            rules[name] = ColumnRule(
                rule.name, rule.typname, rule.category, True, True, rule.max_chars, rule.max_digits
            )
    return rules


def clean_str(text: str) -> str:
    """``text`` without NUL characters and with lone surrogates replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


class _Reject(Exception):
    pass


def _json_clean(value: Any, depth: int, column: str) -> Any:
    if depth > MAX_JSON_DEPTH:
        raise _Reject(f"{column}: nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, Mapping):
        return {clean_str(str(k)): _json_clean(v, depth + 1, column) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v, depth + 1, column) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _check(rule: ColumnRule, value: Any) -> Any:
    """The cleaned value, or :class:`_Reject` with the reason."""
    column = rule.name
    category = rule.category
    if rule.typname in ("json", "jsonb"):
        return _json_clean(value, 0, column)
    if category == "A":
        if not isinstance(value, list | tuple):
            raise _Reject(f"{column}: wrong type ({type(value).__name__} for an array)")
        out = []
        for element in value:
            if isinstance(element, Mapping | list | tuple):
                raise _Reject(f"{column}: wrong type (nested {type(element).__name__} in an array)")
            out.append(clean_str(element) if isinstance(element, str) else element)
        return out
    if category == "S":
        if isinstance(value, Mapping | list | tuple | set | bytes):
            raise _Reject(f"{column}: wrong type ({type(value).__name__} for text)")
        if not isinstance(value, str):
            return value  # a number or date for a text column: written as its text
        text = clean_str(value)
        if rule.max_chars is not None and len(text) > rule.max_chars:
            raise _Reject(f"{column}: value too long ({len(text)} > {rule.max_chars} characters)")
        if rule.indexed:
            size = len(text.encode("utf-8"))
            if size > MAX_INDEXED_BYTES:
                raise _Reject(f"{column}: value too long for an index ({size} > {MAX_INDEXED_BYTES} bytes)")
        return text
    if category == "N":
        return _number(rule, value)
    if category == "D":
        return _instant(rule, value)
    if category == "B":
        if not isinstance(value, bool):
            raise _Reject(f"{column}: wrong type ({type(value).__name__} for a boolean)")
        return value
    if isinstance(value, Mapping | list | tuple | set):
        raise _Reject(f"{column}: wrong type ({type(value).__name__} for {rule.typname})")
    return clean_str(value) if isinstance(value, str) else value


def _number(rule: ColumnRule, value: Any) -> Any:
    column = rule.name
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise _Reject(f"{column}: wrong type ({type(value).__name__} for a number)")
    number: Decimal | int | float
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise _Reject(f"{column}: not a number ({value[:40]!r})") from None
    else:
        number = value
    finite = number.is_finite() if isinstance(number, Decimal) else math.isfinite(number)
    if not finite:
        raise _Reject(f"{column}: not a finite number")
    if rule.max_digits is not None and abs(Decimal(str(number))) >= Decimal(10) ** rule.max_digits:
        raise _Reject(
            f"{column}: out of range (numeric with {rule.max_digits} integer digits: {str(number)[:30]})"
        )
    bound = _INT_RANGES.get(rule.typname)
    if bound is not None:
        if isinstance(number, float | Decimal) and number != int(number):
            raise _Reject(f"{column}: not an integer ({number})")
        if not -bound <= int(number) < bound:
            raise _Reject(f"{column}: out of range ({rule.typname}: {str(number)[:30]})")
    return value if not isinstance(value, str) else number


def _instant(rule: ColumnRule, value: Any) -> Any:
    column = rule.name
    moment: datetime
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise _Reject(f"{column}: not a date or instant ({value[:40]!r})") from None
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    else:
        if rule.typname in ("time", "timetz", "interval"):
            return value
        raise _Reject(f"{column}: wrong type ({type(value).__name__} for {rule.typname})")
    if not EARLIEST <= moment < LATEST:
        raise _Reject(f"{column}: out of range ({moment.year}; expected {EARLIEST.year}..{LATEST.year - 1})")
    return value


def validate_row(row: Row, rules: Mapping[str, ColumnRule]) -> Row:
    """``row`` cleaned; :class:`_Reject` (a reason) when a value cannot be stored."""
    out: Row = {}
    for name, value in row.items():
        rule = rules.get(name)
        if rule is None:  # not a column: the merge names it (a dataset bug, not a hostile reply)
            out[name] = value
            continue
        if value is None:
            if rule.required:
                raise _Reject(f"{name}: missing (required)")
            out[name] = None
            continue
        out[name] = _check(rule, value)
    for name, rule in rules.items():
        if rule.required and name not in row and rule.indexed:
            raise _Reject(f"{name}: missing (required)")
    return out


def validate_rows(rows: Iterable[Row], rules: Mapping[str, ColumnRule]) -> tuple[list[Row], list[Rejected]]:
    """(rows to store, rows rejected with reasons)."""
    kept: list[Row] = []
    rejected: list[Rejected] = []
    for row in rows:
        try:
            kept.append(validate_row(row, rules))
        except _Reject as exc:
            rejected.append(Rejected(str(exc), row))
    return kept, rejected
