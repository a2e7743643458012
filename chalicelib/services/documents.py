"""Uploading a document (issue 17, docs/documents.md): the presigned POST the browser
sends the file with, and the check once it is in the bucket.

1. The page asks for an upload form for a file's name and type (`upload_form`): a fresh
   key under the trainer's prefix, and a POST policy that fixes that key, the type and
   a size of 1 byte to 10 MB, valid for 10 minutes.
2. The browser posts the file to S3 with it; the app never carries the bytes.
3. The page hands the key back (`checked_upload`): the object must be under the
   trainer's prefix, of the size allowed, and really of its type (its first bytes); a
   refused file is deleted at once. What is kept becomes a `Document` with its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.domain import documents
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput, NotFound, VersionConflict, same_version
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import MAX_DOCUMENTS
from chalicelib.domain.schedule import Document, Session, parse_session_ref
from chalicelib.domain.tokens import new_id
from chalicelib.repo.files import FileStore
from chalicelib.services.deps import Deps

UPLOADS_OFF = "Uploads are not available here: add the document as a link instead."


class AskUpload(Command):
    """The page's request for an upload form: the chosen file's name and type."""

    filename: str = ""
    content_type: str = ""


@dataclass(frozen=True)
class UploadForm:
    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int = documents.MAX_BYTES


def upload_form(files: FileStore, trainer: Trainer, command: AskUpload) -> UploadForm:
    """A presigned POST for one new object under the trainer's prefix (see the module
    docstring); InvalidInput for a file of a kind we do not take."""
    if not files.on:
        raise InvalidInput({"file": UPLOADS_OFF})
    kind = documents.kind_for(command.filename, command.content_type)
    key = documents.upload_key(trainer.id, new_id(), command.filename)
    posted: dict[str, Any] = files.upload_form(
        key, kind.content_type, documents.MAX_BYTES, documents.UPLOAD_SECONDS
    )
    return UploadForm(
        url=str(posted["url"]),
        fields={str(k): str(v) for k, v in posted["fields"].items()},
        key=key,
    )


class AttachUpload(Command):
    """The page handing back an uploaded object's key, and the name to show for it."""

    key: str = ""
    name: str = ""


def checked_upload(files: FileStore, trainer: Trainer, command: AttachUpload) -> Document:
    """The uploaded object as a document, once it is checked; refused (and deleted, when
    it is the trainer's) with the reason otherwise."""
    if not files.on:
        raise InvalidInput({"file": UPLOADS_OFF})
    key = command.key.strip()
    if not key.startswith(documents.upload_prefix(trainer.id)):
        # Someone else's object, or none: never read, never deleted from here.
        raise InvalidInput({"file": "That upload is not one of yours."})
    found = files.uploaded(key)
    if found is None:
        raise InvalidInput({"file": "The upload did not arrive: choose the file again."})
    problem = documents.upload_problem(trainer.id, found)
    if problem:
        files.delete(key)
        raise InvalidInput({"file": problem})
    filename = key.rsplit("/", 1)[-1]
    name = " ".join(command.name.split())[: documents.MAX_FILENAME] or filename
    return Document(
        name=name,
        url="",
        key=key,
        content_type=found.content_type,
        size=found.size,
    )


NO_FILE = "Choose a file to upload (uploads need JavaScript turned on)."


def file_to_attach(
    files: FileStore, trainer: Trainer, key: str, name: str, held: int, what: str
) -> Document:
    """The uploaded file, checked, for a template, bundle or session (`what`) holding
    `held` documents: refused, and deleted, past the 5 a page hands out."""
    if not key:
        raise InvalidInput({"file": NO_FILE})
    document = checked_upload(files, trainer, AttachUpload(key=key, name=name))
    if held >= MAX_DOCUMENTS:
        files.delete(document.key)
        raise InvalidInput({"file": f"A {what} has at most {MAX_DOCUMENTS} documents."})
    return document


@contextmanager
def deleted_unless_attached(files: FileStore, document: Document) -> Iterator[None]:
    """The write attaching `document`: refused (a page drawn from an older version), the
    file is deleted rather than kept attached to nothing."""
    try:
        yield
    except VersionConflict:
        files.delete(document.key)
        raise


def view_url(files: FileStore, document: Document) -> str:
    """Where a page links a document: its own link, or a presigned GET of its file made
    now and good for 10 minutes (never a public URL)."""
    if not document.key:
        return document.url
    return files.view_url(
        document.key,
        document.key.rsplit("/", 1)[-1],
        document.content_type or "application/octet-stream",
        documents.VIEW_SECONDS,
    )


# A session's own documents -----------------------------------------------------------


class SessionDocument(Versioned):
    """Add an uploaded file to one session (`key`, `name`), or remove its `index`-th
    document, from the session page drawn at `version`."""

    action: Literal["add", "remove"]
    key: str = ""
    name: str = ""
    index: int | None = None


def change_session_documents(
    deps: Deps, trainer: Trainer, ref: str, command: SessionDocument
) -> Session:
    """The session with a document more or less, in one write at the version the page
    was drawn from (a file added to a session that changed meanwhile is deleted, not
    kept unattached). Removing never deletes the file: another session (its bundle's,
    a moved one's) may hand out the same document."""
    found = parse_session_ref(ref)
    if found is None:
        raise NotFound(ref)
    session = deps.repo.get_session(trainer.id, found)
    same_version(session.version, command.version)
    if not session.is_live:
        raise InvalidInput(
            {"file": f"This session is {session.status}: its documents stay as they are."}
        )
    if command.action == "remove":
        if command.index is None or not 0 <= command.index < len(session.documents):
            raise InvalidInput({"file": "That document is no longer there: reload the page."})
        gone = session.documents[command.index]
        kept = tuple(d for i, d in enumerate(session.documents) if i != command.index)
        updated = session.model_copy(update={"documents": kept})
        return deps.repo.change_session(
            trainer.id, session, updated, "trainer", f"Document removed: {gone.name}", deps.now
        )
    document = file_to_attach(
        deps.files, trainer, command.key, command.name, len(session.documents), "session"
    )
    updated = session.model_copy(update={"documents": (*session.documents, document)})
    with deleted_unless_attached(deps.files, document):
        return deps.repo.change_session(
            trainer.id, session, updated, "trainer", f"Document added: {document.name}", deps.now
        )
