"""Bulk merge: COPY rows into a staging table, then one ``INSERT … ON CONFLICT`` into the target.

Never one statement per row. The whole merge is atomic: it runs in the caller's transaction (as a
savepoint) or in its own, so a bad value leaves nothing of the batch behind.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

OnConflict = Literal["update", "nothing"]

_stage_ids = itertools.count(1)
_COLUMN_IN_CONTEXT = re.compile(r"column (\w+)")


class MergeError(ValueError):
    """A batch could not be merged; nothing of it was written. Names the table and column."""

    def __init__(self, table: str, message: str, column: str | None = None) -> None:
        self.table = table
        self.column = column
        where = f"{table}.{column}" if column else table
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class MergeResult:
    """What a merge did: rows newly inserted, existing rows changed, rows already identical."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: MergeResult) -> MergeResult:
        return MergeResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class _Column:
    name: str
    type_sql: str
    kind: Literal["json", "text", "array", "plain"]


def table_columns(conn: psycopg.Connection, table: str) -> dict[str, _Column]:
    """The target table's columns with their SQL types (schema-qualified names allowed)."""
    rows = conn.execute(
        """SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typcategory
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""",
        (table,),
    ).fetchall()
    if not rows:
        raise MergeError(table, "table does not exist or has no columns")
    return {
        name: _Column(name, type_sql, _kind(typname, category)) for name, type_sql, typname, category in rows
    }


def _kind(typname: str, category: str) -> Literal["json", "text", "array", "plain"]:
    if typname in ("json", "jsonb"):
        return "json"
    if category == "S":
        return "text"
    if category == "A":
        return "array"
    return "plain"


def merge_rows(
    conn: psycopg.Connection,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    key: Sequence[str],
    *,
    on_conflict: OnConflict = "update",
    columns: Sequence[str] | None = None,
    touch: str | None = None,
) -> MergeResult:
    """Merge ``rows`` into ``table`` on ``key``.

    - ``on_conflict="update"`` updates the non-key columns of an existing row when any of them
      differs (and sets ``touch``, e.g. ``updated_at``, to ``now()`` then); ``"nothing"`` keeps
      history rows as first written.
    - Rows with the same key inside one batch collapse to the last one.
    - ``columns`` defaults to every column named by any row; a missing value is NULL.
    - Text loses NUL bytes (PostgreSQL refuses them); dict/list values go to json/jsonb columns as
      JSON and to array columns as arrays.
    """
    try:
        return _merge(conn, table, rows, key, on_conflict, columns, touch)
    except psycopg.errors.DataError as exc:
        context = exc.diag.context or ""
        match = _COLUMN_IN_CONTEXT.search(context)
        raise MergeError(
            table, exc.diag.message_primary or str(exc), match.group(1) if match else None
        ) from exc
    except psycopg.errors.IntegrityError as exc:
        raise MergeError(table, exc.diag.message_primary or str(exc), exc.diag.column_name) from exc


def _merge(
    conn: psycopg.Connection,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    key: Sequence[str],
    on_conflict: OnConflict,
    columns: Sequence[str] | None,
    touch: str | None,
) -> MergeResult:
    if not key:
        raise MergeError(table, "a merge key is required")
    batch = _dedupe(table, rows, key)
    if not batch:
        return MergeResult()
    known = table_columns(conn, table)
    names = list(columns) if columns else _columns_of(batch)
    unknown = [name for name in [*names, *key] if name not in known]
    if unknown:
        raise MergeError(table, f"unknown column(s) {', '.join(sorted(set(unknown)))}")
    missing_key = [k for k in key if k not in names]
    if missing_key:
        raise MergeError(table, f"rows lack key column(s) {', '.join(missing_key)}")

    cols = [known[name] for name in names]
    with conn.transaction(), conn.cursor() as cur:
        if on_conflict == "update" and not _any_key_exists(cur, table, batch, key, known):
            # Every key is new: COPY straight into the table (about twice as fast as staging).
            # A concurrent writer could still add one of these keys; then fall back to staging.
            try:
                with conn.transaction():
                    _copy_rows(cur, _table_ident(table), batch, cols)
                return MergeResult(inserted=len(batch))
            except psycopg.errors.UniqueViolation:
                pass
        stage = sql.Identifier(f"_mp_stage_{next(_stage_ids)}")
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                stage, sql.SQL(", ").join(sql.Identifier(c.name) for c in cols), _table_ident(table)
            )
        )
        _copy_rows(cur, stage, batch, cols)
        cur.execute(_insert_sql(table, stage, names, key, on_conflict, touch))
        inserted, total = cur.fetchone() or (0, 0)
        cur.execute(sql.SQL("DROP TABLE {}").format(stage))
    inserted, total = int(inserted or 0), int(total or 0)
    if on_conflict == "nothing":
        return MergeResult(inserted=inserted, unchanged=len(batch) - inserted)
    return MergeResult(inserted=inserted, updated=total - inserted, unchanged=len(batch) - total)


def _copy_rows(
    cur: psycopg.Cursor[Any], target: sql.Identifier, batch: list[Mapping[str, Any]], cols: list[_Column]
) -> None:
    """COPY ``batch`` into ``target``; only text, array and json values need any Python-side work."""
    names = [c.name for c in cols]
    text_at = [i for i, c in enumerate(cols) if c.kind in ("text", "array")]
    json_at = [i for i, c in enumerate(cols) if c.kind == "json"]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(map(sql.Identifier, names))
    )
    pick = operator.itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    with cur.copy(statement) as copy:
        for row in batch:
            try:
                values = list(pick(row))  # C-level: every column present (the usual case)
            except KeyError:
                values = [row.get(name) for name in names]  # a missing value is NULL
            for i in text_at:
                value = values[i]
                if value is not None:
                    values[i] = _clean_text(value)
            for i in json_at:
                if values[i] is not None:
                    values[i] = Jsonb(_strip_nul(values[i]))
            copy.write_row(values)


def _any_key_exists(
    cur: psycopg.Cursor[Any],
    table: str,
    batch: list[Mapping[str, Any]],
    key: Sequence[str],
    known: dict[str, _Column],
) -> bool:
    """Whether any key of ``batch`` is already in ``table`` (COPY the keys, one indexed join)."""
    keys = sql.Identifier(f"_mp_keys_{next(_stage_ids)}")
    key_cols = sql.SQL(", ").join(map(sql.Identifier, key))
    cur.execute(
        sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            keys, key_cols, _table_ident(table)
        )
    )
    _copy_rows(cur, keys, batch, [known[k] for k in key])
    cur.execute(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM {} k JOIN {} t USING ({}))").format(
            keys, _table_ident(table), key_cols
        )
    )
    found = cur.fetchone()
    cur.execute(sql.SQL("DROP TABLE {}").format(keys))
    return bool(found and found[0])


def _dedupe(table: str, rows: Iterable[Mapping[str, Any]], key: Sequence[str]) -> list[Mapping[str, Any]]:
    by_key: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        try:
            identity = tuple([_hashable(row[k]) for k in key])
        except KeyError as exc:
            raise MergeError(table, f"a row lacks key column {exc.args[0]}") from None
        by_key.pop(identity, None)  # re-insert so the batch keeps the order of last occurrence
        by_key[identity] = row
    return list(by_key.values())


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


def _columns_of(batch: list[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = dict.fromkeys(batch[0])
    first = seen.keys()
    for row in batch:
        if row.keys() != first:  # rows of one dataset almost always share their columns
            for name in row:
                seen.setdefault(name, None)
    return list(seen)


def _clean_text(value: Any) -> Any:
    """Drop NUL characters (PostgreSQL text cannot hold them) from a string or a list of strings."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [v.replace("\x00", "") if isinstance(v, str) else v for v in value]
    return value


def _strip_nul(value: Any) -> Any:
    """Remove NUL characters anywhere inside a JSON value (jsonb refuses \\u0000)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strip_nul(v) for v in value]
    return value


def _table_ident(table: str) -> sql.Identifier:
    return sql.Identifier(*table.split(".", 1))


def _insert_sql(
    table: str,
    stage: sql.Identifier,
    names: Sequence[str],
    key: Sequence[str],
    on_conflict: OnConflict,
    touch: str | None,
) -> sql.Composed:
    target = _table_ident(table)
    col_list = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    key_list = sql.SQL(", ").join(sql.Identifier(k) for k in key)
    action: sql.Composable = sql.SQL("DO NOTHING")
    if on_conflict == "update":
        changing = [n for n in names if n not in key]
        if changing:
            sets = [sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in changing]
            if touch and touch not in changing:
                sets.append(sql.SQL("{} = now()").format(sql.Identifier(touch)))
            old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in changing)
            new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(n)) for n in changing)
            action = sql.SQL("DO UPDATE SET {} WHERE ROW({}) IS DISTINCT FROM ROW({})").format(
                sql.SQL(", ").join(sets), old, new
            )
    # DO NOTHING returns inserted rows only; it needs no xmax, which a partitioned table (the tick
    # tables, migration 0155) cannot return on PostgreSQL 16.
    is_new = sql.SQL("(xmax = 0)") if on_conflict == "update" else sql.SQL("true")
    return sql.SQL(
        "WITH merged AS (INSERT INTO {target} AS t ({cols}) SELECT {cols} FROM {stage} "
        "ON CONFLICT ({keys}) {action} RETURNING {is_new} AS is_new) "
        "SELECT count(*) FILTER (WHERE is_new), count(*) FROM merged"
    ).format(target=target, cols=col_list, stage=stage, keys=key_list, action=action, is_new=is_new)
