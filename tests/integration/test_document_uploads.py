"""Uploads on moto S3 (issue 17 item 1): the presigned POST fixes the key, the type and
the size range (its signed policy says so; S3 enforces it, moto does not, so the policy
is read back here), and the check after the upload keeps only a real PDF, JPEG or PNG
under the trainer's own prefix, deleting anything refused."""

from __future__ import annotations

import base64
import json

import boto3
import pytest

from chalicelib import runtime
from chalicelib.domain import documents
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Trainer
from chalicelib.repo.files import FileStore
from chalicelib.services import documents as uploads
from tests.support.builders import make_trainer

BUCKET = "pt-bookings-test-documents"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 32


@pytest.fixture
def files(aws: None) -> FileStore:
    boto3.client("s3", region_name="eu-west-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
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


def test_the_upload_form_fixes_key_type_and_size_under_the_trainers_prefix(
    files: FileStore, coach: Trainer
) -> None:
    form = uploads.upload_form(
        files,
        coach,
        uploads.AskUpload(filename="Training plan (v2).pdf", content_type="application/pdf"),
    )
    assert form.key.startswith(f"trainers/{coach.id}/uploads/")
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
            files, coach, uploads.AskUpload(filename=filename, content_type=content_type)
        )


def test_a_real_pdf_is_kept_as_a_document_with_its_key(files: FileStore, coach: Trainer) -> None:
    key = documents.upload_key(coach.id, "u1", "plan.pdf")
    _put(files, key, PDF, "application/pdf")
    document = uploads.checked_upload(
        files, coach, uploads.AttachUpload(key=key, name="  Training   plan ")
    )
    assert (document.name, document.key, document.content_type, document.size) == (
        "Training plan",
        key,
        "application/pdf",
        len(PDF),
    )
    assert _exists(files, key)
    link = uploads.view_url(files, document)
    assert "X-Amz-Signature=" in link and "X-Amz-Expires=600" in link


def test_an_exe_renamed_pdf_is_refused_and_deleted(files: FileStore, coach: Trainer) -> None:
    key = documents.upload_key(coach.id, "u2", "plan.pdf")
    _put(files, key, EXE, "application/pdf")
    with pytest.raises(InvalidInput, match="not a real PDF"):
        uploads.checked_upload(files, coach, uploads.AttachUpload(key=key, name="Plan"))
    assert not _exists(files, key)


def test_a_file_over_ten_megabytes_is_refused_and_deleted(files: FileStore, coach: Trainer) -> None:
    key = documents.upload_key(coach.id, "u3", "big.png")
    _put(files, key, PNG + b"\x00" * documents.MAX_BYTES, "image/png")
    with pytest.raises(InvalidInput, match="over 10 MB"):
        uploads.checked_upload(files, coach, uploads.AttachUpload(key=key, name="Big"))
    assert not _exists(files, key)


def test_another_trainers_upload_is_neither_attached_nor_deleted(
    files: FileStore, coach: Trainer, repo
) -> None:
    other = make_trainer(repo, "other@example.com")
    key = documents.upload_key(other.id, "u4", "plan.pdf")
    _put(files, key, PDF, "application/pdf")
    with pytest.raises(InvalidInput, match="not one of yours"):
        uploads.checked_upload(files, coach, uploads.AttachUpload(key=key, name="Theirs"))
    assert _exists(files, key)  # not ours to delete


def test_an_upload_that_never_arrived_is_refused(files: FileStore, coach: Trainer) -> None:
    key = documents.upload_key(coach.id, "u5", "plan.pdf")
    with pytest.raises(InvalidInput, match="did not arrive"):
        uploads.checked_upload(files, coach, uploads.AttachUpload(key=key, name="Plan"))


def test_without_a_bucket_uploads_are_not_offered(coach: Trainer) -> None:
    off = FileStore(runtime.s3_client, "")
    with pytest.raises(InvalidInput, match="not available"):
        uploads.upload_form(
            off, coach, uploads.AskUpload(filename="a.pdf", content_type="application/pdf")
        )
