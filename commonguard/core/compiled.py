"""A hot query compiled once, run many times.

The ORM compiles a queryset to SQL on every evaluation; for a small query run on every request
that compile costs more than the database does (the viewer's UNION: about 0.8 ms of Python for a
0.15 ms round trip). `CompiledQuery` builds the queryset once per database connection vendor with
stand-in values for its arguments, keeps the SQL and the parameter list, and later runs that SQL
with the real values put where the stand-ins were. Only for querysets whose shape does not depend
on the values (a fixed number of parameters, no `__in` over a list argument). Rows come back as
values_list gives them (the same per-column converters).

`CompiledInsert` does the same for `bulk_create` on the hot write paths (a report's submission: the
report, its timeline lines, its obligations and its audit rows): the INSERT is built once per row
count, and only the values are prepared on each call.

On PostgreSQL both send their parameters apart from the SQL (server-side binding): psycopg does not
quote every value into the statement text in Python, and it prepares a statement it has run a few
times on a connection (`prepare_threshold` in settings.py), so PostgreSQL stops parsing and planning
it. Every other query keeps Django's default, client-side binding, which never prepares (ADR 38).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

# Stand-ins no real argument equals: negative integers far outside any primary key (for a text
# field, their text).
_STAND_IN_BASE = -(10**15)


class CompiledQuery:
    def __init__(self, build: Callable[..., Any], arguments: int = 1, using: str = "default") -> None:
        self.build = build
        self.arguments = arguments
        self.using = using
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, vendor: str) -> _Compiled:
        stand_ins = [_STAND_IN_BASE - i for i in range(self.arguments)]
        query = self.build(*stand_ins).query
        compiler = query.get_compiler(using=self.using)
        sql, params = compiler.as_sql()
        # The per-column converters values_list would apply (SQLite's dates and booleans, say).
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(
                [column for column, _, _ in compiler.select]
            ).items()
        )
        # A text field turns its stand-in into the number's text.
        argument_of: dict[int | str, int] = {n: i for i, n in enumerate(stand_ins)}
        argument_of.update({str(n): i for i, n in enumerate(stand_ins)})
        slots = tuple(
            (position, argument_of[value])
            for position, value in enumerate(params)
            if type(value) in (int, str) and value in argument_of
        )
        found = {argument for _, argument in slots}
        if found != set(range(self.arguments)) or any(str(value) in sql for value in stand_ins):
            raise ValueError(f"{self.build.__qualname__}: every argument must reach the SQL as a parameter")
        compiled = _Compiled(sql, tuple(params), slots, converters, tuple(query.values_select))
        self._compiled[vendor] = compiled
        return compiled

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        """The rows, as values_list would give them."""
        connection = connections[self.using]
        compiled = self._compiled.get(connection.vendor) or self._compile(connection.vendor)
        bound: list[Any] = list(compiled.params)
        for position, argument in compiled.slots:
            bound[position] = values[argument]
        with bound_cursor(connection) as cursor:
            cursor.execute(compiled.sql, bound)
            found: Sequence[tuple[Any, ...]] = cursor.fetchall()
        if not compiled.converters:
            return list(found)
        converted = []
        for row in found:
            values_of = list(row)
            for position, functions, expression in compiled.converters:
                value = values_of[position]
                for function in functions:
                    value = function(value, expression, connection)
                values_of[position] = value
            converted.append(tuple(values_of))
        return converted

    def instance(self, model: type[models.Model], *values: Any) -> Any:
        """The first row as a `model` instance, built as the ORM builds one (`from_db`) from the
        selected fields (the others deferred, as with `only()`), or None. The query must select
        `model`'s own fields by name (`values_list("id", "name", ...)`)."""
        rows = self.rows(*values)
        if not rows:
            return None
        by_name = dict(zip(self._compiled[connections[self.using].vendor].names, rows[0], strict=True))
        # from_db takes the values in the model's field order, whatever order the query selected them in.
        selected = [f for f in model._meta.concrete_fields if f.name in by_name or f.attname in by_name]
        if len(selected) != len(by_name):
            raise ValueError(f"{self.build.__qualname__}: select {model.__name__}'s own fields by name")
        return model.from_db(
            self.using,
            [f.attname for f in selected],
            [by_name[f.name] if f.name in by_name else by_name[f.attname] for f in selected],
        )


class _Compiled(NamedTuple):
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, int], ...]  # (parameter position, argument index)
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]  # (column, functions, expression)
    names: tuple[str, ...]  # values_list's field names


def bound_cursor(connection: BaseDatabaseWrapper) -> Any:
    """A cursor for SQL run many times: on PostgreSQL, one that binds its parameters on the server
    (and so may be prepared), wrapped as `connection.cursor()` wraps its own (the test suite's query
    log, Django's error classes); elsewhere, `connection.cursor()`."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]  # psycopg 3

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # What connection.cursor() does with the cursor it creates (debug wrapper when queries are logged).
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))  # type: ignore[attr-defined]


class CompiledInsert:
    """`Model.objects.bulk_create(objs)` for a handful of rows, the INSERT built once per row count.

    Sets each object's primary key (RETURNING) and marks it saved, like bulk_create. Sends no signals,
    like bulk_create. More rows than `MAX_ROWS`, or a model with database-side defaults or generated
    columns, go through bulk_create itself. Like bulk_create it skips `Model.save()`: not for a model
    whose save() or `pre_save`/`post_save` receivers do work on insert (ADR 38).
    """

    MAX_ROWS = 50

    def __init__(self, model: type[models.Model], using: str = "default") -> None:
        self.model = model
        self.using = using
        pk = model._meta.pk
        self.fields = tuple(f for f in model._meta.concrete_fields if f is not pk)
        self.plain = isinstance(pk, models.AutoField) and not any(
            f.db_default is not models.NOT_PROVIDED or f.generated for f in self.fields
        )
        self._sql: dict[tuple[str, int], str] = {}

    def _statement(self, connection: BaseDatabaseWrapper, rows: int) -> str:
        key = (connection.vendor, rows)
        sql = self._sql.get(key)
        if sql is None:
            quote = connection.ops.quote_name
            pk = self.model._meta.pk
            assert pk is not None
            # Names from the model's metadata, quoted; every value is a parameter.
            table, columns = quote(self.model._meta.db_table), ", ".join(quote(f.column) for f in self.fields)
            values = ", ".join(["(" + ", ".join(["%s"] * len(self.fields)) + ")"] * rows)
            sql = f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {quote(pk.column)}"  # noqa: S608
            self._sql[key] = sql
        return sql

    def insert(self, objs: Sequence[models.Model]) -> list[Any]:
        connection = connections[self.using]
        if not objs:
            return []
        if len(objs) > self.MAX_ROWS or not self.plain or not connection.features.can_return_rows_from_bulk_insert:
            return self.model._default_manager.using(self.using).bulk_create(objs)
        params: list[Any] = []
        for obj in objs:
            if obj.pk is not None or not obj._state.adding:
                raise ValueError(f"{obj!r} is already saved")
            obj._prepare_related_fields_for_save(operation_name="insert")  # type: ignore[attr-defined]  # as bulk_create
            params.extend(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in self.fields)
        with bound_cursor(connection) as cursor:
            cursor.execute(self._statement(connection, len(objs)), params)
            keys = cursor.fetchall()
        for obj, (key,) in zip(objs, keys, strict=True):
            obj.pk = key
            obj._state.adding = False
            obj._state.db = self.using
        return list(objs)
