"""Reading a feed's source (an http(s) URL or a file on the hub's server) and turning its bytes into
(where, kind, value, comment) tuples for `sharing.imports.parse_bulk`."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from commonguard.core.fetch import FetchError, fetch_bytes


class FeedError(Exception):
    """The source cannot be read or is not what the feed says; nothing was imported."""


def max_bytes() -> int:
    return int(settings.COMMONGUARD_FEED_MAX_BYTES)


def too_big(what: str) -> FeedError:
    return FeedError(
        f"{what} is over {max_bytes() // (1024 * 1024)} MB, the most a feed may bring; nothing was imported."
    )


def resolve(source: str) -> str:
    """A URL stays a URL; a relative path is taken from the project directory."""
    if source.startswith(("http://", "https://")):
        return source
    if "://" in source:
        raise FeedError(f"A feed's source must be an http(s) URL or a file path, not {source!r}.")
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = settings.BASE_DIR / path
    return str(path)


def read(source: str, name: str = "") -> bytes:
    """The raw bytes of `source` (or of `name` inside it, for a MISP feed's folder or URL), at most
    COMMONGUARD_FEED_MAX_BYTES."""
    source = resolve(source)
    limit = max_bytes()
    if source.startswith(("http://", "https://")):
        where = source.rstrip("/") + "/" + name if name else source
    else:
        where = str(Path(source) / name) if name else source
    try:
        raw = fetch_bytes(where, limit=limit, user_agent="CommonGuard feed import")
    except FetchError as exc:
        raise FeedError(str(exc)) from exc
    if len(raw) > limit:
        raise too_big(where)
    if not raw.strip():
        raise FeedError(f"{where} is empty; the feed's alert is left as it was.")
    return raw


def decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedError(f"{where} is not UTF-8 text (byte {exc.start}); nothing was imported.") from exc


Row = tuple[str, str | None, str, str]


def _adblock(line: str) -> str:
    """URL blocklists in adblock syntax (urlhaus-filter): "||host/path^$all" is host/path."""
    if line.startswith("||"):
        line = line[2:]
        caret = line.find("^")
        if caret != -1:
            line = line[:caret]
        if "/" in line:
            return "http://" + line
    return line


def text_rows(text: str, kind: str | None) -> Iterator[Row]:
    """One indicator per line; blank lines and comments ("#", "!", "//", ";") are skipped."""
    for number, line in enumerate(text.splitlines(), start=1):
        value = line.strip()
        if not value or value[0] in "#!;" or value.startswith("//"):
            continue
        yield f"line {number}", kind, _adblock(value), ""


def _column(spec: str, header: list[str] | None, what: str) -> int | None:
    spec = spec.strip()
    if not spec:
        return None
    if spec.isdigit() and int(spec) >= 1:
        return int(spec) - 1
    if header is None:
        raise FeedError(f"The {what} column “{spec}” is a name, but the feed has no header row: give its number.")
    names = [h.strip().lower() for h in header]
    if spec.lower() not in names:
        raise FeedError(f"The CSV has no “{spec}” column (it has: {', '.join(header[:20])}).")
    return names.index(spec.lower())


def csv_rows(
    text: str,
    *,
    kind: str | None,
    value: str,
    kind_column: str = "",
    comment: str = "",
    delimiter: str = ",",
    header: bool,
) -> Iterator[Row]:
    """One indicator per row, from the columns the feed names; "#" lines are comments (abuse.ch's
    CSV exports start with them). A row too short for the value column is counted invalid."""
    lines = (line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    try:
        reader = csv.reader(lines, delimiter=delimiter or ",", strict=True)
        names = next(reader, None) if header else None
        at_value = _column(value or "1", names, "value")
        at_kind = _column(kind_column, names, "kind")
        at_comment = _column(comment, names, "comment")
        for row in reader:
            where = f"row {reader.line_num}"
            if at_value is None or at_value >= len(row):
                yield where, kind, "", ""
                continue
            row_kind = row[at_kind].strip() if at_kind is not None and at_kind < len(row) else ""
            note = row[at_comment].strip() if at_comment is not None and at_comment < len(row) else ""
            yield where, row_kind or kind, row[at_value], note
    except csv.Error as exc:
        raise FeedError(f"The CSV is malformed: {exc}; nothing was imported.") from exc


def count_lines(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") else 1)


__all__ = ["FeedError", "csv_rows", "decode", "read", "resolve", "text_rows"]
