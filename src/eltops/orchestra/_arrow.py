"""Orchestra records as Arrow tables, typed by the column declarations of :mod:`eltops.orchestra._records`.

:data:`ARROW_TYPES` maps each logical :class:`~eltops.orchestra._records.ColumnType` to its Arrow type, and
:func:`arrow_schema` gives a resource's schema. :func:`page_to_arrow` turns a page's ``results`` into a table (one
C++ conversion of the whole page when every value has the type the spec promises, else column by column with the
pure-Python converters of :mod:`eltops.orchestra._records`, so both paths accept and refuse the same values);
the Snowflake target types a batch's pages through here (:meth:`eltops.orchestra._pages.PageBatch.to_arrow`) before
it binds them as JSON to one MERGE; DuckDB types the JSON itself.

This module needs pyarrow (the ``snowflake`` extra) and orjson; it imports :mod:`eltops.orchestra._records`, which
does not import it back and stays standard-library only (the Snowflake Native App ships it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from eltops._extras import needs_extra

with needs_extra("snowflake", "typing Orchestra records as Arrow tables"):
    import pyarrow as pa

from eltops.orchestra._records import (
    _CONVERTERS,
    REST,
    Column,
    ColumnType,
    JsonValue,
    RecordError,
    Resource,
    _check_ids,
    rest_of,
)

__all__ = ["ARROW_TYPES", "arrow_schema", "arrow_type", "page_to_arrow"]

ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    ColumnType.TEXT: pa.string(),
    ColumnType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    ColumnType.JSON: pa.string(),  # serialised JSON text
    ColumnType.INTEGER: pa.int64(),
    ColumnType.FLOAT: pa.float64(),
    ColumnType.BOOLEAN: pa.bool_(),
}


def arrow_type(column: Column) -> pa.DataType:
    """The Arrow type of a column's values (JSON as serialised text, timestamps in UTC microseconds)."""
    return ARROW_TYPES[column.type]


def arrow_schema(resource: Resource) -> pa.Schema:
    """The Arrow schema of a batch of ``resource`` records (the API's columns, without ``loaded_at``)."""
    return pa.schema([pa.field(c.name, arrow_type(c)) for c in resource.columns])


def _column_array(column: Column, values: list[JsonValue]) -> pa.Array[Any]:
    """Values of one column as an Arrow array: C-speed when the API sent the expected types, else checked."""
    kind = column.type
    try:
        if kind is ColumnType.JSON:
            return pa.array([None if v is None else orjson.dumps(v).decode() for v in values], pa.string())
        if kind is ColumnType.TIMESTAMP:
            return pa.array(values, pa.string()).cast(arrow_type(column))
        if kind is ColumnType.FLOAT:
            return pa.array(values, pa.float64(), from_pandas=False)
        if kind is ColumnType.BOOLEAN:
            if all(type(v) is bool or v is None for v in values):  # Arrow would take 1 and "true" as true
                return pa.array(values, pa.bool_())
        elif kind is ColumnType.INTEGER:
            # Arrow would truncate 2.5 to 2 and wrap what does not fit: only plain ints go through as they are
            if all(type(v) is int or v is None for v in values):
                return pa.array(values, arrow_type(column))
        else:
            return pa.array(values, arrow_type(column))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass
    convert = _CONVERTERS[kind]
    converted = []
    for position, value in enumerate(values):
        try:
            converted.append(convert(value, column))
        except RecordError as exc:
            raise RecordError(f"result {position}: {exc}") from None
    return pa.array(converted, arrow_type(column))


def page_to_arrow(resource: Resource, results: Sequence[Any]) -> pa.Table:
    """A page's ``results`` as an Arrow table of ``resource``'s columns (raises :class:`RecordError`)."""
    _check_ids(results, resource.id_source)
    try:
        return _page_to_arrow_fast(resource, results)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        pass  # a value of an unexpected type somewhere: convert column by column, leniently or with its name
    arrays = [_column_array(c, _values(resource, c, results)) for c in resource.columns]
    return pa.Table.from_arrays(arrays, schema=arrow_schema(resource))


def _values(resource: Resource, column: Column, results: Sequence[Any]) -> list[JsonValue]:
    """One column's values from the records (the ``extra`` column: each record's other fields)."""
    if column.source == REST:
        return [rest_of(resource, r) for r in results]
    return [r.get(column.source) for r in results]


_STRUCT_TYPES: dict[str, pa.StructType] = {}
_SEPARATE = (ColumnType.JSON, ColumnType.INTEGER, ColumnType.BOOLEAN)
"""Columns the struct conversion would get wrong: JSON is serialised; Arrow truncates a float into an integer, and
takes 1 for true."""


def _struct_type(resource: Resource) -> pa.StructType:
    """The API object as an Arrow struct (JSON and integer columns left out: they are converted separately)."""
    if resource.name not in _STRUCT_TYPES:
        fields = [
            pa.field(c.source, pa.string() if c.type is ColumnType.TIMESTAMP else arrow_type(c))
            for c in resource.columns
            if c.type not in _SEPARATE
        ]
        _STRUCT_TYPES[resource.name] = pa.struct(fields)
    return _STRUCT_TYPES[resource.name]


def _page_to_arrow_fast(resource: Resource, results: Sequence[Any]) -> pa.Table:
    """One C++ conversion of the whole page when every value has the type the spec promises."""
    struct = pa.array(results, type=_struct_type(resource))
    assert isinstance(struct, pa.StructArray)
    arrays: list[pa.Array[Any]] = []
    for column in resource.columns:
        if column.type in _SEPARATE:
            arrays.append(_column_array(column, _values(resource, column, results)))
        elif column.type is ColumnType.TIMESTAMP:
            arrays.append(struct.field(column.source).cast(arrow_type(column)))
        else:
            arrays.append(struct.field(column.source))
    return pa.Table.from_arrays(arrays, schema=arrow_schema(resource))
