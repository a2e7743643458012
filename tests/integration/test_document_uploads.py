"""Uploads on moto S3 (issue 17 item 1): the presigned POST fixes the key, the type and
the size range (its signed policy says so; S3 enforces it, moto does not, so the policy
is read back here), and the check after the upload keeps only a real PDF, JPEG or PNG
under the trainer's own prefix, deleting anything refused.

What moto cannot enforce of the POST policy, the check does, and is tested here: a key no
form issued (its signature), an object written after its form expired (S3's clock is
moto's, set here to the test's clock), and an overwrite after the check (the kept copy is
the version that was checked, on a versioned bucket like the real one)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import boto3
import moto.s3.models
import pytest

from chalicelib import runtime
from chalicelib.domain import documents
from chalicelib.domain.documents import Uploaded
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.repo.files import FileStore
from chalicelib.services import documents as uploads
from tests.conftest import Clock
from tests.support.builders import make_trainer

BUCKET = "pt-bookings-test-documents"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 32
SECRET = b"test-only-upload-secret"
ISSUED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def s3_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """S3's clock (what it stamps LastModified with), here the test's to move."""
    clock = Clock(ISSUED)
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: clock.now.replace(tzinfo=None))
    return clock


@pytest.fixture
def files(aws: None, s3_clock: Clock) -> FileStore:
    s3 = boto3.client("s3", region_name="eu-west-2")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    # Versioned, as infra/table.yaml makes the real one.
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return FileStore(runtime.s3_client, BUCKET)


@pytest.fixture
def coach(repo) -> Trainer:
    return make_trainer(repo)


def _policy(fields: dict[str, str]) -> dict:
    return json.loads(base64.b64decode(fields["policy"]))


def _put(files: FileStore, key: str, body: bytes, content_type: str) -> None:
    runtime.s3_client().put_object(
        Bucket=files.bucket, Key=key, Body=body, ContentType=content_type
    )


def _exists(files: FileStore, key: str) -> bool:
    found = runtime.s3_client().list_objects_v2(Bucket=files.bucket, Prefix=key)
    return bool(found.get("KeyCount"))


def _body(files: FileStore, key: str) -> bytes:
    return runtime.s3_client().get_object(Bucket=files.bucket, Key=key)["Body"].read()


def _form(
    files: FileStore, trainer: Trainer, filename: str = "plan.pdf", now: datetime = ISSUED
) -> uploads.UploadForm:
    kind = "image/png" if filename.endswith(".png") else "application/pdf"
    return uploads.upload_form(
        files, SECRET, trainer, uploads.AskUpload(filename=filename, content_type=kind), now
    )


def _posted(
    files: FileStore, trainer: Trainer, body: bytes, filename: str = "plan.pdf"
) -> uploads.UploadForm:
    """A form issued, and the browser's POST played by putting the object at its key."""
    form = _form(files, trainer, filename)
    _put(files, form.key, body, form.fields["Content-Type"])
    return form


def _attach(
    files: FileStore,
    trainer: Trainer,
    form: uploads.UploadForm,
    name: str = "Plan",
    key: str | None = None,
    signature: str | None = None,
):
    return uploads.checked_upload(
        files,
        SECRET,
        trainer,
        uploads.AttachUpload(
            key=form.key if key is None else key,
            name=name,
            signature=form.signature if signature is None else signature,
        ),
    ).document


def test_the_upload_form_fixes_key_type_and_size_under_the_trainers_prefix(
    files: FileStore, coach: Trainer
) -> None:
    form = _form(files, coach, "Training plan (v2).pdf")
    assert form.key.startswith(f"uploads/{coach.id}/")
    # The key carries the form's issue time, and the signature is over it.
    assert documents.form_expiry(coach.id, form.key) == int(ISSUED.timestamp()) + 600
    assert documents.issued_expiry(SECRET, coach.id, form.key, form.signature)
    assert not documents.issued_expiry(b"another stage", coach.id, form.key, form.signature)
    assert form.key.endswith("/Training-plan-v2.pdf")
    assert form.fields["key"] == form.key
    assert form.fields["Content-Type"] == "application/pdf"
    conditions = _policy(form.fields)["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": form.key} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, documents.MAX_BYTES] in conditions
    expiry = _policy(form.fields)["expiration"]
    assert expiry.endswith("Z")


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("setup.exe", "application/octet-stream"),
        ("plan.pdf", "application/x-msdownload"),
        ("photo.png", "image/jpeg"),  # the name and the type disagree
        ("noextension", "application/pdf"),
    ],
)
def test_a_kind_we_do_not_take_gets_no_upload_form(
    files: FileStore, coach: Trainer, filename: str, content_type: str
) -> None:
    with pytest.raises(InvalidInput, match="Upload a PDF, JPEG or PNG file"):
        uploads.upload_form(
            files,
            SECRET,
            coach,
            uploads.AskUpload(filename=filename, content_type=content_type),
            ISSUED,
        )


def test_a_real_pdf_is_kept_as_a_document_with_its_key(files: FileStore, coach: Trainer) -> None:
    form = _posted(files, coach, PDF)
    document = _attach(files, coach, form, "  Training   plan ")
    kept = documents.kept_key(coach.id, form.key)
    assert kept.startswith(f"trainers/{coach.id}/files/") and kept.endswith("/plan.pdf")
    assert (document.name, document.key, document.content_type, document.size) == (
        "Training plan",
        kept,
        "application/pdf",
        len(PDF),
    )
    assert _body(files, kept) == PDF
    # Only the checked copy is linked; the upload's key, which its form can still write
    # to, is gone.
    assert not _exists(files, form.key)
    link = uploads.view_url(files, document)
    assert f"/{kept}?" in link
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=600" in link


def test_an_exe_renamed_pdf_is_refused_and_deleted(files: FileStore, coach: Trainer) -> None:
    form = _posted(files, coach, EXE)
    with pytest.raises(InvalidInput, match="not a real PDF"):
        _attach(files, coach, form)
    assert not _exists(files, form.key)
    assert not _exists(files, documents.kept_key(coach.id, form.key))


def test_a_file_over_ten_megabytes_is_refused_and_deleted(files: FileStore, coach: Trainer) -> None:
    form = _posted(files, coach, PNG + b"\x00" * documents.MAX_BYTES, "big.png")
    with pytest.raises(InvalidInput, match="over 10 MB"):
        _attach(files, coach, form, "Big")
    assert not _exists(files, form.key)


def test_another_trainers_upload_is_neither_attached_nor_deleted(
    files: FileStore, coach: Trainer, repo
) -> None:
    other = make_trainer(repo, "other@example.com")
    theirs = _posted(files, other, PDF)  # a real form of theirs, signature and all
    with pytest.raises(InvalidInput, match="not one of yours"):
        _attach(files, coach, theirs, "Theirs")
    assert _exists(files, theirs.key)  # not ours to delete
    # Nor is their kept file, handed over as if it were an upload.
    their_file = documents.kept_key(other.id, theirs.key)
    _put(files, their_file, PDF, "application/pdf")
    with pytest.raises(InvalidInput, match="not one of yours"):
        _attach(files, coach, theirs, key=their_file)
    assert _exists(files, their_file)


def test_an_upload_that_never_arrived_is_refused(files: FileStore, coach: Trainer) -> None:
    form = _form(files, coach)
    with pytest.raises(InvalidInput, match="did not arrive"):
        _attach(files, coach, form)


def test_without_a_bucket_uploads_are_not_offered(coach: Trainer) -> None:
    off = FileStore(runtime.s3_client, "")
    with pytest.raises(InvalidInput, match="not available"):
        uploads.upload_form(
            off,
            SECRET,
            coach,
            uploads.AskUpload(filename="a.pdf", content_type="application/pdf"),
            ISSUED,
        )


# What moto does not enforce of the POST policy --------------------------------------------


def test_a_form_posted_again_after_it_expired_is_refused_and_deleted(
    files: FileStore, coach: Trainer, s3_clock: Clock
) -> None:
    form = _form(files, coach)
    s3_clock.advance(minutes=11)  # the form lived 10 minutes
    _put(files, form.key, PDF, "application/pdf")
    with pytest.raises(InvalidInput, match="arrived after its form expired"):
        _attach(files, coach, form)
    assert not _exists(files, form.key)
    assert not _exists(files, documents.kept_key(coach.id, form.key))


def test_a_form_posted_just_before_it_expired_is_kept(
    files: FileStore, coach: Trainer, s3_clock: Clock
) -> None:
    form = _form(files, coach)
    s3_clock.advance(minutes=9, seconds=59)
    _put(files, form.key, PDF, "application/pdf")
    s3_clock.advance(minutes=5)  # attaching later is fine: the file arrived in time
    assert _attach(files, coach, form).key == documents.kept_key(coach.id, form.key)


def test_a_post_to_another_key_than_its_form_issued_is_refused_and_deleted(
    files: FileStore, coach: Trainer
) -> None:
    form = _form(files, coach)
    # The same prefix, another upload id or file name: a retargeted POST.
    for elsewhere in (
        documents.upload_key(
            coach.id, documents.form_upload_id(ISSUED, "zzzzzzzzzzzz"), "plan.pdf"
        ),
        form.key.replace("/plan.pdf", "/other.pdf"),
    ):
        _put(files, elsewhere, PDF, "application/pdf")
        with pytest.raises(InvalidInput, match="did not come from this page's form"):
            _attach(files, coach, form, key=elsewhere)
        assert not _exists(files, elsewhere)


def test_a_key_made_up_without_a_form_is_refused_and_deleted(
    files: FileStore, coach: Trainer
) -> None:
    made_up = documents.upload_key(
        coach.id, documents.form_upload_id(ISSUED, "abcdefghijkl"), "plan.pdf"
    )
    form = _form(files, coach)
    for signature in ("", "forged", "A" * 43, form.signature):
        _put(files, made_up, PDF, "application/pdf")
        with pytest.raises(InvalidInput, match="did not come from this page's form"):
            _attach(files, coach, form, key=made_up, signature=signature)
        assert not _exists(files, made_up)


def test_a_key_in_another_prefix_of_the_bucket_is_refused_and_left_alone(
    files: FileStore, coach: Trainer
) -> None:
    form = _posted(files, coach, PDF)
    kept = _attach(files, coach, form).key
    for elsewhere in (kept, f"trainers/{coach.id}/other/plan.pdf", "plan.pdf"):
        _put(files, elsewhere, PDF, "application/pdf")
        with pytest.raises(InvalidInput, match="not one of yours"):
            _attach(files, coach, form, key=elsewhere)
        assert _exists(files, elsewhere)  # an attached file is never deleted from here


def test_an_overwrite_after_the_check_does_not_change_what_clients_open(
    files: FileStore, coach: Trainer
) -> None:
    form = _posted(files, coach, PDF)
    document = _attach(files, coach, form)
    # The form is still valid for a few minutes: post an EXE with it again.
    _put(files, form.key, EXE, "application/pdf")
    assert _body(files, document.key) == PDF
    link = uploads.view_url(files, document)
    assert f"/{document.key}?" in link and form.key not in link


class _OverwrittenWhileChecked(FileStore):
    """The bucket as it is when the form is posted again between the check and the copy."""

    def uploaded(self, key: str) -> Uploaded | None:
        found = super().uploaded(key)
        _put(self, key, EXE, "application/pdf")
        return found


def test_an_overwrite_during_the_check_does_not_reach_the_kept_copy(
    files: FileStore, coach: Trainer
) -> None:
    form = _posted(files, coach, PDF)
    racing = _OverwrittenWhileChecked(runtime.s3_client, BUCKET)
    document = _attach(racing, coach, form)
    assert _body(files, document.key) == PDF  # the version checked, not the newer one


def test_on_an_unversioned_bucket_the_check_reads_by_etag(files: FileStore, coach: Trainer) -> None:
    # `make run`'s bucket may not be versioned: the ETag still pins the bytes read.
    plain = "pt-bookings-test-plain"
    runtime.s3_client().create_bucket(
        Bucket=plain, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    store = FileStore(runtime.s3_client, plain)
    form = _posted(store, coach, PDF)
    found = store.uploaded(form.key)
    assert found is not None and found.version_id == "" and found.etag
    assert found.first_bytes == PDF[: documents.SNIFF_BYTES]
    assert _attach(store, coach, form).key == documents.kept_key(coach.id, form.key)


def _hand_back(files: FileStore, trainer: Trainer, form: uploads.UploadForm):
    return uploads.checked_upload(
        files,
        SECRET,
        trainer,
        uploads.AttachUpload(key=form.key, name="Plan", signature=form.signature),
    )


def _double_click(
    files: FileStore, coach: Trainer, monkeypatch: pytest.MonkeyPatch
) -> tuple[uploads.AttachedFile, uploads.AttachedFile]:
    """Two requests hand back the same upload (a double-click): the second checks and
    copies it while the first is between its copy and deleting the upload. Returns
    (the first to copy, the second)."""
    form = _posted(files, coach, PDF)
    second: list[uploads.AttachedFile] = []
    interleaved: list[bool] = []  # once: the second request deletes the upload too

    real_delete = FileStore.delete

    def second_click_runs_now(store: FileStore, key: str, version_id: str = "") -> None:
        if key == form.key and not interleaved:
            interleaved.append(True)
            second.append(_hand_back(files, coach, form))
        real_delete(store, key, version_id)

    monkeypatch.setattr(FileStore, "delete", second_click_runs_now)
    first = _hand_back(files, coach, form)
    monkeypatch.setattr(FileStore, "delete", real_delete)
    assert first.document.key == second[0].document.key  # one kept key, two copies of it
    assert first.copy_version and first.copy_version != second[0].copy_version
    return first, second[0]


def _refused(files: FileStore, attached: uploads.AttachedFile) -> None:
    """The attaching write of `attached` refused as stale: its clean-up runs."""
    with pytest.raises(VersionConflict), uploads.deleted_unless_attached(files, attached):
        raise VersionConflict()


def test_a_double_click_whose_write_loses_deletes_its_own_copy_never_the_attached_one(
    files: FileStore, coach: Trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner, loser = _double_click(files, coach, monkeypatch)  # the first copy attached
    _refused(files, loser)
    assert _body(files, winner.document.key) == PDF  # what was attached still opens


def test_the_loser_of_a_double_click_that_copied_first_also_leaves_the_winners_copy(
    files: FileStore, coach: Trainer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loser, winner = _double_click(files, coach, monkeypatch)  # the second copy attached
    _refused(files, loser)
    assert _body(files, winner.document.key) == PDF
