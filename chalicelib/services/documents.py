"""Uploading a document (issue 17, docs/documents.md): the presigned POST the browser
sends the file with, and the check once it is in the bucket.

1. The page asks for an upload form for a file's name and type (`upload_form`): a fresh
   key under the trainer's prefix, and a POST policy that fixes that key, the type and
   a size of 1 byte to 10 MB, valid for 10 minutes.
2. The browser posts the file to S3 with it; the app never carries the bytes.
3. The page hands the key back with the form's signature (`checked_upload`): the key
   must be one our form issued (the signature), the object written before the form
   expired, of the size allowed, and really of its type (its first bytes); a refused
   file is deleted at once. What is kept is copied, pinned to the version checked, to a
   key no form can write, and becomes a `Document` with that key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from chalicelib.domain import documents
from chalicelib.domain.commands import Command, Versioned
from chalicelib.domain.errors import InvalidInput, VersionConflict, same_version
from chalicelib.domain.models import Trainer
from chalicelib.domain.programs import MAX_DOCUMENTS
from chalicelib.domain.schedule import Document, Session, session_ref_or_404
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
    # Handed back with the key (`AttachUpload.signature`): proof this app issued the key.
    signature: str
    max_bytes: int = documents.MAX_BYTES


def upload_form(
    files: FileStore, secret: bytes, trainer: Trainer, command: AskUpload, now: datetime
) -> UploadForm:
    """A presigned POST for one new object under the trainer's prefix (see the module
    docstring), its key stamped with `now`; InvalidInput for a kind we do not take."""
    if not files.on:
        raise InvalidInput({"file": UPLOADS_OFF})
    kind = documents.kind_for(command.filename, command.content_type)
    upload_id = documents.form_upload_id(now, new_id())
    key = documents.upload_key(trainer.id, upload_id, command.filename)
    posted: dict[str, Any] = files.upload_form(
        key, kind.content_type, documents.MAX_BYTES, documents.UPLOAD_SECONDS
    )
    expires_at = documents.form_expiry(trainer.id, key)
    assert expires_at is not None  # the key was made just above, by the same rules
    return UploadForm(
        url=str(posted["url"]),
        fields={str(k): str(v) for k, v in posted["fields"].items()},
        key=key,
        signature=documents.form_signature(secret, trainer.id, key, expires_at),
    )


class AttachUpload(Command):
    """The page handing back an uploaded object's key, the signature its form came
    with, and the name to show for it."""

    key: str = ""
    name: str = ""
    signature: str = ""


NOT_ISSUED = "That upload did not come from this page's form: choose the file again."
CHANGED = "The file changed while it was being checked: upload it again."


@dataclass(frozen=True)
class AttachedFile:
    """A checked upload's document, and which version of its kept copy this request made:
    the one to delete if its write is refused. Two requests handing back the same upload
    (a double-click) each copy it to the same kept key; the loser must delete only its own
    copy, never the one the winner attached."""

    document: Document
    copy_version: str  # "" in an unversioned bucket: the key itself goes

    def discard(self, files: FileStore) -> None:
        files.delete(self.document.key, self.copy_version)


def checked_upload(
    files: FileStore, secret: bytes, trainer: Trainer, command: AttachUpload
) -> AttachedFile:
    """The uploaded object as a document, once it is checked: issued by one of our forms
    (its signature), written before that form expired, of a size and type we take. Kept
    as a copy of the very version checked (`domain/documents.kept_key`), which is the
    key the document names; the upload itself is deleted. Refused with the reason
    otherwise, and deleted when it is under this trainer's uploads prefix (another
    trainer's object, or a kept file, is never read or deleted from here)."""
    if not files.on:
        raise InvalidInput({"file": UPLOADS_OFF})
    key = command.key.strip()
    prefix = documents.upload_prefix(trainer.id)
    if not key.startswith(prefix) or "/../" in key:
        # Someone else's object, or none: never read, never deleted from here.
        raise InvalidInput({"file": "That upload is not one of yours."})
    expires_at = documents.issued_expiry(secret, trainer.id, key, command.signature.strip())
    if expires_at is None:
        files.delete(key)  # a forged or retargeted POST's object, in our own prefix
        raise InvalidInput({"file": NOT_ISSUED})
    found = files.uploaded(key)
    if found is None:
        raise InvalidInput({"file": "The upload did not arrive: choose the file again."})
    problem = documents.upload_problem(trainer.id, found, expires_at)
    if problem:
        files.delete(key)
        raise InvalidInput({"file": problem})
    kept = documents.kept_key(trainer.id, key)
    copy_version = files.keep(found, kept)
    if copy_version is None:
        files.delete(key)
        raise InvalidInput({"file": CHANGED})
    files.delete(key)  # only the checked copy is ever linked; its form can only write here
    filename = key.rsplit("/", 1)[-1]
    name = " ".join(command.name.split())[: documents.MAX_FILENAME] or filename
    document = Document(
        name=name, url="", key=kept, content_type=found.content_type, size=found.size
    )
    return AttachedFile(document, copy_version)


NO_FILE = "Choose a file to upload (uploads need JavaScript turned on)."


def file_to_attach(
    deps: Deps, trainer: Trainer, upload: AttachUpload, held: int, what: str
) -> AttachedFile:
    """The uploaded file, checked, for a template, bundle, session or draft (`what`)
    holding `held` documents: refused, and deleted, past the 5 a page hands out."""
    if not upload.key:
        raise InvalidInput({"file": NO_FILE})
    attached = checked_upload(deps.files, deps.links.secret, trainer, upload)
    if held >= MAX_DOCUMENTS:
        attached.discard(deps.files)
        raise InvalidInput({"file": f"A {what} has at most {MAX_DOCUMENTS} documents."})
    return attached


@contextmanager
def deleted_unless_attached(files: FileStore, attached: AttachedFile) -> Iterator[None]:
    """The write attaching `attached`: refused (a page drawn from an older version, or
    another request attaching the same upload first), this request's copy is deleted
    rather than kept attached to nothing."""
    try:
        yield
    except VersionConflict:
        attached.discard(files)
        raise


@contextmanager
def discarded_if_stale(files: FileStore, trainer: Trainer, key: str) -> Iterator[None]:
    """The version check of a page handing back an upload (`key`, maybe ""): a page drawn
    from an older version is refused, and its upload deleted with it rather than left
    unattached (only under this trainer's uploads prefix: nothing else is ours to
    delete from here)."""
    try:
        yield
    except VersionConflict:
        if files.on and key.startswith(documents.upload_prefix(trainer.id)) and "/../" not in key:
            files.delete(key)
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
    signature: str = ""
    index: int | None = None


def change_session_documents(
    deps: Deps, trainer: Trainer, ref: str, command: SessionDocument
) -> Session:
    """The session with a document more or less, in one write at the version the page
    was drawn from (a file added to a session that changed meanwhile is deleted, not
    kept unattached). Removing never deletes the file: another session (its bundle's,
    a moved one's) may hand out the same document."""
    session = deps.repo.get_session(trainer.id, session_ref_or_404(ref))
    with discarded_if_stale(deps.files, trainer, command.key if command.action == "add" else ""):
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
    upload = AttachUpload(key=command.key, name=command.name, signature=command.signature)
    attached = file_to_attach(deps, trainer, upload, len(session.documents), "session")
    document = attached.document
    updated = session.model_copy(update={"documents": (*session.documents, document)})
    with deleted_unless_attached(deps.files, attached):
        return deps.repo.change_session(
            trainer.id, session, updated, "trainer", f"Document added: {document.name}", deps.now
        )
