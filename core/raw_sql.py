"""Whole-row reads by key in plain SQL, for the few queries every page runs.

The ORM spends far more CPU composing a query than a database spends answering a lookup by key:
reading one task by its id and owner cost ~1 ms of which the database's part was ~0.05 ms. These
helpers write such a SELECT once per process (every concrete column of the model, its table, a
WHERE clause of ``column = %s`` and ``column IN (...)`` conditions), apply to each value the same
conversions a queryset applies (the backend's and the field's: datetimes, UUIDs, JSON; looked up once
per connection) and make the instances with ``Model.from_db``, as the ORM does.
"""

import weakref

from django.db import connections, models

_SQL: dict = {}  # (model, vendor, where, in_sizes) -> SELECT; a few dozen shapes per process


def _select(model, connection, where: tuple, in_sizes: tuple, fields: tuple | None = None) -> str:
    key = (model, connection.vendor, where, in_sizes, fields)
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _compose(model, connection.ops.quote_name, where, in_sizes, fields)
    return sql


def _compose(model, quote, where: tuple, in_sizes: tuple, fields: tuple | None = None) -> str:
    chosen = model._meta.concrete_fields if fields is None else [model._meta.get_field(name) for name in fields]
    columns = ", ".join(quote(field.column) for field in chosen)
    conditions = [f"{quote(column)} = %s" for column in where]
    conditions += [f"{quote(column)} IN ({', '.join(['%s'] * size)})" for column, size in in_sizes]
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {' AND '.join(conditions)}"


def prep(model, field_name: str, value, using: str = "default"):
    """``value`` as the database stores ``model.field_name`` (a UUID as the backend writes it, ...)."""
    if isinstance(value, models.Model):  # a foreign key given as the instance
        value = value.pk
    return model._meta.get_field(field_name).get_db_prep_value(value, connections[using], prepared=False)


def select_rows(model, *, equal: dict | None = None, within: dict | None = None, using: str = "default") -> list:
    """Instances of ``model`` whose columns equal ``equal`` and are among ``within``'s lists (no ordering).

    Keys are field names (``user`` or ``user_id`` for a foreign key); an empty list in ``within`` reads nothing.
    """
    return [instance(model, row, using) for row in _fetch(model, None, equal, within, using)]


def select_values(model, fields: tuple, *, equal: dict | None = None, within: dict | None = None,
                  using: str = "default") -> list[tuple]:
    """select_rows' rows as tuples of ``fields`` (names of concrete fields, ``task`` for a foreign key's id),
    converted as the ORM converts them, without making instances: for reads that show a few columns."""
    fields = tuple(fields)
    connection = connections[using]
    converters = _field_converters(model, fields, connection)
    rows = _fetch(model, fields, equal, within, using)
    if not converters:
        return [tuple(row) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for index, functions, column in converters:
            value = values[index]
            for function in functions:
                value = function(value, column, connection)
            values[index] = value
        out.append(tuple(values))
    return out


def select_with_parent(model, foreign_key: str, *, equal: dict, parent_equal: dict, using: str = "default") -> list:
    """[(instance, its parent)] of ``model`` joined with the row its ``foreign_key`` names, in one query.

    ``equal`` holds conditions on ``model``'s fields, ``parent_equal`` on the parent's: a read of a
    task's file that checks the task's owner is one round trip instead of two.
    """
    connection = connections[using]
    parent = model._meta.get_field(foreign_key).related_model
    key = (model, connection.vendor, foreign_key, tuple(equal), tuple(parent_equal))
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = _compose_with_parent(model, connection.ops.quote_name, foreign_key, tuple(equal),
                                               tuple(parent_equal))
    params = [prep(model, name, value, using) for name, value in equal.items()]
    params += [prep(parent, name, value, using) for name, value in parent_equal.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(model._meta.concrete_fields)
    return [(instance(model, row[:width], using), instance(parent, row[width:], using)) for row in rows]


def _compose_with_parent(model, quote, foreign_key: str, equal: tuple, parent_equal: tuple) -> str:
    field = model._meta.get_field(foreign_key)
    parent = field.related_model._meta
    columns = [f"c.{quote(f.column)}" for f in model._meta.concrete_fields]
    columns += [f"p.{quote(f.column)}" for f in parent.concrete_fields]
    conditions = [f"c.{quote(model._meta.get_field(name).column)} = %s" for name in equal]
    conditions += [f"p.{quote(parent.get_field(name).column)} = %s" for name in parent_equal]
    return (f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} c "
            f"JOIN {quote(parent.db_table)} p ON p.{quote(field.target_field.column)} = c.{quote(field.column)} "
            f"WHERE {' AND '.join(conditions)}")


def _fetch(model, fields, equal, within, using) -> list:
    equal, within = equal or {}, within or {}
    if any(not values for values in within.values()):
        return []
    connection = connections[using]
    meta = model._meta
    where = tuple(meta.get_field(name).column for name in equal)
    in_sizes = tuple((meta.get_field(name).column, len(values)) for name, values in within.items())
    sql = _select(model, connection, where, in_sizes, fields)
    params = [prep(model, name, value, using) for name, value in equal.items()]
    for name, values in within.items():
        params += [prep(model, name, value, using) for value in values]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def instance(model, row, using: str = "default"):
    """A ``model`` instance from a row of its concrete columns in field order, converted as the ORM converts."""
    connection = connections[using]
    values = list(row)
    for index, functions, column in _converters(model, connection):
        value = values[index]
        for function in functions:
            value = function(value, column, connection)
        values[index] = value
    return model.from_db(using, _names(model), values)


def convert_value(model, field_name: str, value, using: str = "default"):
    """One column's value as the ORM gives it (a CHAR(32) id as a UUID, ...)."""
    connection = connections[using]
    index = _names(model).index(model._meta.get_field(field_name).attname)
    for at, functions, column in _converters(model, connection):
        if at == index:
            for function in functions:
                value = function(value, column, connection)
    return value


_NAMES: dict = {}


def _names(model) -> list:
    names = _NAMES.get(model)
    if names is None:
        names = _NAMES[model] = [field.attname for field in model._meta.concrete_fields]
    return names


# connection -> {model: [(column index, converters, column expression)]}: what SQLCompiler.get_converters
# finds for these columns; per connection object (each thread has its own), forgotten with it.
_CONVERTERS = weakref.WeakKeyDictionary()


def _converters(model, connection) -> list:
    return _field_converters(model, None, connection)


def _field_converters(model, fields: tuple | None, connection) -> list:
    """[(index, converters, column)] of ``fields`` (None: every concrete field, in field order)."""
    known = _CONVERTERS.get(connection)
    if known is None:
        known = _CONVERTERS[connection] = {}
    found = known.get((model, fields))
    if found is None:
        found = []
        chosen = model._meta.concrete_fields if fields is None else [model._meta.get_field(name) for name in fields]
        for index, field in enumerate(chosen):
            column = field.get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if functions:
                found.append((index, functions, column))
        known[(model, fields)] = found
    return found
