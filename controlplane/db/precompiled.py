"""Statements compiled once per dialect and run on the driver's own cursor.

For the API's hottest reads: GET one instance, and a list page's relations. SQLAlchemy's
per-execution work builds the statement's cache key, an execution context, the result's metadata
from the cursor's description and a Row per row. For one indexed lookup, that cost more CPU than
the driver's execution: 0.35 ms of 0.70 ms a GET on a PostgreSQL store, 0.15 of 0.27 ms on
SQLite. Here a statement with named bind parameters is compiled on first use for the session's
dialect. Then each run is the driver's execute and fetchall. Parameters go to the driver as they
are, so a statement may only bind types without a bind processor (strings, numbers: checked).
The column types' result processors are applied as SQLAlchemy would apply them (UTC datetimes,
and JSON and booleans on SQLite).

The statement runs on the given connection, or the session's: inside its transaction if it has
one, and through the same pool. Of SQLAlchemy's execution events, only before_cursor_execute
listeners are called (with no execution context).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Select
from sqlalchemy.orm import Session

from controlplane.db.session import Reader


@dataclass(frozen=True, slots=True)
class _ForDialect:
    sql: str
    compiled: Any  # sqlalchemy.sql.compiler.SQLCompiler
    positions: tuple[str, ...] | None  # parameter names in order, for a positional paramstyle
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, processor)


class Precompiled:
    """A select run as plain tuples, in its columns' order, already converted to Python."""

    def __init__(self, statement: Select[Any]) -> None:
        self._statement = statement
        self._by_dialect: dict[str, _ForDialect] = {}

    def rows(self, reader: Reader, **params: Any) -> list[tuple[Any, ...]]:
        connection = reader.connection() if isinstance(reader, Session) else reader
        compiled = self._for(connection.dialect)
        values = compiled.compiled.construct_params(params)
        arguments: Any = values
        if compiled.positions is not None:
            arguments = tuple(values[name] for name in compiled.positions)
        cursor = connection.connection.cursor()
        try:
            if connection._has_events or connection.engine._has_events:  # e.g. tests counting
                for listener in connection.dispatch.before_cursor_execute:
                    listener(connection, cursor, compiled.sql, arguments, None, False)
            cursor.execute(compiled.sql, arguments)
            fetched: Sequence[tuple[Any, ...]] = cursor.fetchall()
        finally:
            cursor.close()
        if not compiled.processors:
            return list(fetched)
        converted = []
        for raw in fetched:
            row = list(raw)
            for index, process in compiled.processors:
                row[index] = process(row[index])
            converted.append(tuple(row))
        return converted

    def _for(self, dialect: Dialect) -> _ForDialect:
        found = self._by_dialect.get(dialect.name)
        if found is None:
            found = self._by_dialect[dialect.name] = _compile(self._statement, dialect)
        return found


def _compile(statement: Select[Any], dialect: Dialect) -> _ForDialect:
    compiled = statement.compile(dialect=dialect)
    for name, bind in compiled.binds.items():
        if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
            raise TypeError(f"parameter {name!r} needs converting: run the statement as usual")
    processors = []
    for index, column in enumerate(statement.selected_columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            processors.append((index, process))
    positions = tuple(compiled.positiontup or ()) if compiled.positional else None
    return _ForDialect(compiled.string, compiled, positions, tuple(processors))
