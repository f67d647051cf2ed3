"""Library uploads: the type is decided by the bytes, never by the name or the browser's claim;
a size limit; and how each type is served (only images inline; everything else as an attachment)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# Text files are accepted by these names only (scripts are tools; they are always downloaded).
TEXT_EXTENSIONS = frozenset({".txt", ".md", ".csv", ".json", ".yaml", ".yml", ".ps1", ".sh", ".py", ".conf", ".ini"})
# Text that a browser would run as a page or image if it ever sniffed it: refused outright.
_ACTIVE_TEXT = re.compile(rb"<\s*(!doctype\s+html|html|script|svg|iframe|object|embed|body)\b", re.IGNORECASE)

_OOXML = {
    "word/": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx"),
    "xl/": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "ppt/": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", ".pptx"),
}
_ODF = {
    b"application/vnd.oasis.opendocument.text": ".odt",
    b"application/vnd.oasis.opendocument.spreadsheet": ".ods",
    b"application/vnd.oasis.opendocument.presentation": ".odp",
}

ALLOWED_DESCRIPTION = (
    "PDF, Word/Excel/PowerPoint (.docx, .xlsx, .pptx), OpenDocument, PNG, JPEG, ZIP, or plain text "
    "(.txt, .md, .csv, .json, .yaml, scripts)"
)


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str

    @property
    def inline(self) -> bool:
        """Only raster images are shown in the browser; PDFs, office files, archives and text download."""
        return self.content_type in {"image/png", "image/jpeg"}


def max_bytes() -> int:
    return int(getattr(settings, "COMMONGUARD_LIBRARY_MAX_BYTES", DEFAULT_MAX_BYTES))


def sniff(data: bytes, file_name: str) -> Sniffed:
    """What the bytes are, among the accepted types; anything else is a ValidationError."""
    if data.startswith(b"%PDF-"):
        return Sniffed("application/pdf", ".pdf")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image/png", ".png")
    if data.startswith(b"\xff\xd8\xff"):
        return Sniffed("image/jpeg", ".jpg")
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    suffix = PurePosixPath(file_name.lower()).suffix
    if suffix in TEXT_EXTENSIONS and _is_plain_text(data):
        return Sniffed("text/plain; charset=utf-8", suffix)
    raise ValidationError(
        f"“{file_name}” is not a type the library accepts. Accepted: {ALLOWED_DESCRIPTION}.", code="file_type"
    )


def _sniff_zip(data: bytes) -> Sniffed:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                kind = archive.read("mimetype").strip()
                if kind in _ODF:
                    return Sniffed(kind.decode(), _ODF[kind])
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ValidationError("The file looks like a ZIP archive but cannot be read.", code="file_type") from exc
    if "[Content_Types].xml" in names:
        for prefix, (content_type, ext) in _OOXML.items():
            if any(name.startswith(prefix) for name in names):
                return Sniffed(content_type, ext)
    return Sniffed("application/zip", ".zip")


def _is_plain_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _ACTIVE_TEXT.search(data[:65536]) is None


def safe_download_name(file_name: str, extension: str) -> str:
    """The uploader's name without path or odd characters, ending in the sniffed type's extension."""
    stem = PurePosixPath(file_name.replace("\\", "/")).name
    stem = re.sub(r"[^A-Za-z0-9._ -]+", "_", stem).strip(" .") or "resource"
    stem = stem[:150]
    if not stem.lower().endswith(extension):
        stem = f"{PurePosixPath(stem).stem or 'resource'}{extension}"
    return stem
