"""Uploaded documents (issue 17): what may be uploaded, where it goes in the bucket, and
how a file is checked once it is there.

The browser sends the bytes straight to S3 with a presigned POST whose policy fixes the
object key (under the trainer's own prefix), the content type and the size range; the
app never carries the bytes. S3 enforces that policy, but a policy only trusts what the
browser declared, so once the upload is done the app reads the object's size and first
bytes and keeps the file only if it really is the PDF, JPEG or PNG it claims to be.

moto (the tests, `make run`) does not enforce POST policies, so the app does not lean on
them alone: an upload form's key carries its issue time, the form comes with an HMAC over
(trainer prefix, key, expiry), and the check refuses a key no form issued and an object
written after its form expired. A checked file is then copied, pinned to the version that
was checked, to a key under `trainers/<id>/files/` that no upload form ever names, so a
POST replayed after the check cannot change what clients open.

Pure rules only: the S3 calls are in services/documents.py.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.tokens import derive_token

MAX_BYTES: Final = 10 * 1024 * 1024
UPLOAD_SECONDS: Final = 10 * 60  # how long a presigned POST can be used
VIEW_SECONDS: Final = 10 * 60  # how long a presigned GET drawn on a page works
SNIFF_BYTES: Final = 16  # enough for every signature below
# S3 stamps an object with its own clock and the form's expiry comes from ours: a few
# seconds of slack so a file posted in time is never refused for the clocks' drift (S3
# itself refuses a POST after the policy's expiration).
CLOCK_SLACK_SECONDS: Final = 30


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
    for a key under it, and nothing outside it is ever attached to their things.

    Outside `trainers/` on purpose: an upload is copied to the trainer's files and deleted
    within minutes, so whatever stays under `uploads/` was abandoned (the page closed
    after the POST), and the bucket's lifecycle rule can expire that prefix alone
    (infra/table.yaml, `abandoned-uploads`)."""
    return f"uploads/{trainer_id}/"


def upload_key(trainer_id: str, upload_id: str, filename: str) -> str:
    return f"{upload_prefix(trainer_id)}{upload_id}/{safe_filename(filename)}"


def files_prefix(trainer_id: str) -> str:
    """Where a trainer's checked files are kept: only the app writes here (a copy of the
    version it checked), never an upload form, so what clients open is what was checked."""
    return f"trainers/{trainer_id}/files/"


def kept_key(trainer_id: str, key: str) -> str:
    """The checked copy's key for an upload's key (same upload id and file name)."""
    return files_prefix(trainer_id) + key.removeprefix(upload_prefix(trainer_id))


def form_upload_id(issued_at: datetime, random_id: str) -> str:
    """An upload form's id: its issue time (so the check knows when the form expired)
    and a random part (so no two forms share a key)."""
    return f"{int(issued_at.timestamp())}-{random_id}"


_FORM_ID = re.compile(r"([0-9]{10})-[A-Za-z0-9_-]{8,32}")
_KEY_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}")


def form_expiry(trainer_id: str, key: str) -> int | None:
    """When the upload form that issued `key` expired (epoch seconds); None for a key no
    form of ours could have issued for this trainer."""
    rest = key.removeprefix(upload_prefix(trainer_id))
    if rest == key:
        return None
    upload_id, slash, filename = rest.partition("/")
    found = _FORM_ID.fullmatch(upload_id)
    if not found or not slash or not _KEY_NAME.fullmatch(filename):
        return None
    return int(found.group(1)) + UPLOAD_SECONDS


def form_signature(secret: bytes, trainer_id: str, key: str, expires_at: int) -> str:
    """What the upload form comes with and the attach request must bring back: proof the
    app issued this key, for this trainer, expiring then."""
    return derive_token(secret, "upload-form", upload_prefix(trainer_id), key, str(expires_at))


def issued_expiry(secret: bytes, trainer_id: str, key: str, signature: str) -> int | None:
    """The expiry of the form that issued `key`, if `signature` is its; None for a key
    with no valid signature (forged, retargeted, another prefix, a damaged signature)."""
    expires_at = form_expiry(trainer_id, key)
    if expires_at is None or not signature:
        return None
    expected = form_signature(secret, trainer_id, key, expires_at)
    return expires_at if hmac.compare_digest(expected, signature) else None


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
    # What pins the bytes checked: the copy clients open is made of exactly this
    # version (VersionId on the versioned bucket, ETag on any).
    version_id: str = ""
    etag: str = ""
    last_modified: datetime | None = None


LATE = "That upload arrived after its form expired: choose the file again."


def upload_problem(
    trainer_id: str, uploaded: Uploaded, expires_at: int | None = None
) -> str | None:
    """Why an uploaded object cannot be kept (it is then deleted), or None. With
    `expires_at` (its form's expiry), an object written after it is refused: a form
    posted again after it expired."""
    if not uploaded.key.startswith(upload_prefix(trainer_id)):
        return "That upload is not one of yours."
    if expires_at is not None and uploaded.last_modified is not None:
        limit = datetime.fromtimestamp(expires_at + CLOCK_SLACK_SECONDS, UTC)
        if uploaded.last_modified > limit:
            return LATE
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
