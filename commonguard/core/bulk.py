"""Writing many validated rows at once, for imports (indicator feeds, STIX bundles).

On PostgreSQL `COPY … FROM STDIN`: several times faster than Django's `bulk_create`, whose multi-row
INSERT has psycopg escape every string of every row as an array literal (a 24,771-object ATT&CK
bundle: 6.3 s in `bulk_create`, most of it in that escaping). Elsewhere `bulk_create`. Rows carry
every column (COPY applies no model defaults) and are validated by the caller."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert `rows` (one value per name in `fields`, attribute names such as `alert_id`)."""
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows], batch_size=1000
        )
        return
    columns = {field.attname: field.column for field in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    names = ", ".join(quote(columns[name]) for name in fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
        with raw.copy(f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
