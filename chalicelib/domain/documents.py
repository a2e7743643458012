"""Uploaded documents (issue 17): what may be uploaded, where it goes in the bucket, and
how a file is checked once it is there.

The browser sends the bytes straight to S3 with a presigned POST whose policy fixes the
object key (under the trainer's own prefix), the content type and the size range; the
app never carries the bytes. S3 enforces that policy, but a policy only trusts what the
browser declared, so once the upload is done the app reads the object's size and first
bytes and keeps the file only if it really is the PDF, JPEG or PNG it claims to be.

Pure rules only: the S3 calls are in services/documents.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from chalicelib.domain.errors import InvalidInput

MAX_BYTES: Final = 10 * 1024 * 1024
UPLOAD_SECONDS: Final = 10 * 60  # how long a presigned POST can be used
VIEW_SECONDS: Final = 10 * 60  # how long a presigned GET drawn on a page works
SNIFF_BYTES: Final = 16  # enough for every signature below


@dataclass(frozen=True)
class FileKind:
    content_type: str
    label: str
    signature: bytes
    extensions: tuple[str, ...]


KINDS: Final = (
    FileKind("application/pdf", "PDF", b"%PDF-", (".pdf",)),
    FileKind("image/jpeg", "JPEG", b"\xff\xd8\xff", (".jpg", ".jpeg")),
    FileKind("image/png", "PNG", b"\x89PNG\r\n\x1a\n", (".png",)),
)
_BY_TYPE: Final = {k.content_type: k for k in KINDS}
_BY_EXTENSION: Final = {e: k for k in KINDS for e in k.extensions}
ALLOWED_WORDS: Final = "a PDF, JPEG or PNG"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_FILENAME: Final = 80


def safe_filename(name: str) -> str:
    """The file's name as the object key ends: ASCII letters, digits, dot, dash and
    underscore only (accents folded, anything else a dash), at most 80 characters, never
    empty and never a path."""
    folded = unicodedata.normalize("NFKD", name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1])
    ascii_only = folded.encode("ascii", "ignore").decode()
    cleaned = re.sub(r"-+\.", ".", _UNSAFE.sub("-", ascii_only)).strip(".-") or "document"
    if len(cleaned) <= MAX_FILENAME:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if dot and len(extension) <= 5:
        return stem[: MAX_FILENAME - len(extension) - 1] + "." + extension
    return cleaned[:MAX_FILENAME]


def kind_for(filename: str, declared_type: str) -> FileKind:
    """What an upload must be, from the file's name and the type the browser declared:
    both must agree on one of the allowed kinds."""
    extension = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    by_name = _BY_EXTENSION.get(extension)
    by_type = _BY_TYPE.get((declared_type or "").strip().lower())
    if by_name is None or by_type is None or by_name is not by_type:
        raise InvalidInput({"file": f"Upload {ALLOWED_WORDS} file (up to 10 MB)."})
    return by_name


def upload_prefix(trainer_id: str) -> str:
    """Every object of a trainer's uploads is under this prefix: a presigned POST is made
    for a key under it, and nothing outside it is ever attached to their things."""
    return f"trainers/{trainer_id}/uploads/"


def upload_key(trainer_id: str, upload_id: str, filename: str) -> str:
    return f"{upload_prefix(trainer_id)}{upload_id}/{safe_filename(filename)}"


def sniff(first_bytes: bytes) -> FileKind | None:
    """The kind a file really is, from its first bytes (None: none we take)."""
    return next((k for k in KINDS if first_bytes.startswith(k.signature)), None)


@dataclass(frozen=True)
class Uploaded:
    """What S3 says of an uploaded object: its size, the type it was stored with, and
    its first bytes."""

    key: str
    size: int
    content_type: str
    first_bytes: bytes


def upload_problem(trainer_id: str, uploaded: Uploaded) -> str | None:
    """Why an uploaded object cannot be kept (it is then deleted), or None."""
    if not uploaded.key.startswith(upload_prefix(trainer_id)):
        return "That upload is not one of yours."
    if uploaded.size <= 0:
        return "That file is empty."
    if uploaded.size > MAX_BYTES:
        return "That file is over 10 MB: make it smaller and upload it again."
    declared = _BY_TYPE.get(uploaded.content_type)
    found = sniff(uploaded.first_bytes)
    if declared is None or found is None or found is not declared:
        named = declared.label if declared else "document"
        return f"That file is not a real {named}: upload {ALLOWED_WORDS} file."
    return None
