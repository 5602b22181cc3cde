"""Schema drift: the fields of a provider's records, compared with what the same endpoint sent before.

For every OK reply the engine notes its *shape*: how many records it carried and which fields they
had. The records of a JSON reply are the reply itself when it is a list of objects, else its largest
list of objects (``data``, ``quarterlyReports``, ``top_gainers`` …), else the object itself; a CSV
reply's records are its data rows and its fields the header. Shapes are kept per endpoint *and*
container, so an envelope without records (``{"articles": []}``) is never compared with records. The first completed item of an endpoint
sets the baseline (``collect_fields``); later replies are compared with it:

- *missing*: fields every record of the baseline had and no record has now (a rename or a removal);
- *new*: fields no record of the baseline had.

A reply with records whose parse yields no rows while fields are missing is
:class:`~marketpipe.http.errors.SchemaDrift` (never "ok, 0 rows"); otherwise drift is recorded in the
run ledger and the baseline takes the new shape in, so each change is reported once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from marketpipe.http.types import ApiRequest, Reply

#: Shapes with more fields than this are not tracked (a key-per-date object such as a time series).
MAX_FIELDS = 400


@dataclass(frozen=True)
class Shape:
    endpoint: str
    records: int
    fields: frozenset[str]  # in any record
    always: frozenset[str]  # in every record


def endpoint_of(request: ApiRequest) -> str:
    """What identifies an endpoint's reply shape: provider, path and (Alpha Vantage) ``function``."""
    function = request.params.get("function", "")
    return f"{request.provider} {request.path} {function}".strip()


def _records(body: Any) -> tuple[str, list[Mapping[str, Any]]] | None:
    """(container, records): ``[]`` for a top-level list, the key of the largest list of objects in
    an object, or ``.`` for the object itself."""
    if isinstance(body, list):
        objects = [record for record in body if isinstance(record, Mapping)]
        return ("[]", objects) if objects or not body else None
    if not isinstance(body, Mapping):
        return None
    lists = [
        (key, value)
        for key, value in body.items()
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value[:5])
    ]
    if lists:
        return max(lists, key=lambda entry: len(entry[1]))
    return ".", [body]


def shape_of(request: ApiRequest, reply: Reply) -> Shape | None:
    """The shape of an OK reply (None for bodies without records: HTML, XML, a bare value)."""
    endpoint = endpoint_of(request)
    if request.expect == "csv":
        text = reply.text.lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(text)))
        if not rows:
            return None
        header = frozenset(name.strip() for name in rows[0] if name.strip())
        data = sum(1 for row in rows[1:] if any(cell.strip() for cell in row))
        return Shape(endpoint, data, header, header)
    if request.expect != "json":
        return None
    try:
        body = reply.json()
    except ValueError:
        return None
    found = _records(body)
    if found is None:
        return None
    container, records = found
    endpoint = f"{endpoint}#{container}"
    fields: set[str] = set()
    always: set[str] | None = None
    for record in records:
        keys = set(record)
        fields |= keys
        always = keys if always is None else always & keys
        if len(fields) > MAX_FIELDS:
            return None
    return Shape(endpoint, len(records), frozenset(fields), frozenset(always or ()))


class FieldBaselines:
    """The last accepted shape per (dataset, endpoint), in ``collect_fields`` (autocommit connection)."""

    def __init__(self, conn: psycopg.Connection, dataset: str) -> None:
        self.conn = conn
        self.dataset = dataset
        self._cache: dict[str, tuple[frozenset[str], frozenset[str]] | None] = {}

    def _baseline(self, endpoint: str) -> tuple[frozenset[str], frozenset[str]] | None:
        if endpoint not in self._cache:
            row = self.conn.execute(
                "SELECT fields, always FROM collect_fields WHERE dataset = %s AND endpoint = %s",
                (self.dataset, endpoint),
            ).fetchone()
            self._cache[endpoint] = (frozenset(row[0]), frozenset(row[1])) if row else None
        return self._cache[endpoint]

    def compare(self, shape: Shape) -> tuple[set[str], set[str]] | None:
        """(missing, new) against the baseline; None without a baseline or records to compare."""
        baseline = self._baseline(shape.endpoint)
        if baseline is None or not shape.records:
            return None
        fields, always = baseline
        missing = set(always - shape.fields)
        new = set(shape.fields - fields)
        return (missing, new) if missing or new else None

    def learn(self, shape: Shape) -> None:
        """Fold ``shape`` into the endpoint's baseline after an item completed with it: fields seen
        grow (union), fields always present shrink (intersection) — records vary by item, and a change
        is reported once."""
        if not shape.records:
            return
        current = self._baseline(shape.endpoint)
        fields, always = (
            (shape.fields, shape.always)
            if current is None
            else (current[0] | shape.fields, current[1] & shape.always)
        )
        if current == (fields, always):
            return
        self.conn.execute(
            """INSERT INTO collect_fields (dataset, endpoint, fields, always, updated_at)
               VALUES (%s, %s, %s, %s, now())
               ON CONFLICT (dataset, endpoint) DO UPDATE
                  SET fields = EXCLUDED.fields, always = EXCLUDED.always, updated_at = now()""",
            (self.dataset, shape.endpoint, sorted(fields), sorted(always)),
        )
        self._cache[shape.endpoint] = (fields, always)
