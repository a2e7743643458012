"""The document rules (domain/documents.py): names made safe for a key, kinds by name
and type, and the check of an uploaded object by its size and first bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain import documents
from chalicelib.domain.documents import Uploaded
from chalicelib.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("Training plan (v2).pdf", "Training-plan-v2.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Plan.PDF", "Plan.PDF"),
        ("Programme d’entraînement.pdf", "Programme-dentrainement.pdf"),
        ("<script>.png", "script.png"),
        ("", "document"),
        ("....", "document"),
    ],
)
def test_safe_filename(name: str, safe: str) -> None:
    assert documents.safe_filename(name) == safe


@given(st.text(max_size=300))
def test_a_safe_filename_is_always_a_short_plain_key_part(name: str) -> None:
    safe = documents.safe_filename(name)
    assert 0 < len(safe) <= documents.MAX_FILENAME
    assert "/" not in safe and "\\" not in safe and safe.isascii()
    assert not safe.startswith(".")


def test_kinds_need_the_name_and_the_type_to_agree() -> None:
    assert documents.kind_for("a.PDF", "application/pdf").label == "PDF"
    assert documents.kind_for("a.jpeg", "image/jpeg").label == "JPEG"
    for name, kind in (("a.exe", "application/pdf"), ("a.pdf", "image/png"), ("a", "")):
        with pytest.raises(InvalidInput):
            documents.kind_for(name, kind)


def _uploaded(first: bytes, size: int = 100, kind: str = "application/pdf", tid: str = "t1"):
    return Uploaded(documents.upload_key(tid, "u", "f.pdf"), size, kind, first)


def test_the_check_reads_the_real_type_and_the_size() -> None:
    assert documents.upload_problem("t1", _uploaded(b"%PDF-1.4\n")) is None
    assert "not a real PDF" in (documents.upload_problem("t1", _uploaded(b"MZ\x90\x00")) or "")
    assert "over 10 MB" in (
        documents.upload_problem("t1", _uploaded(b"%PDF-", documents.MAX_BYTES + 1)) or ""
    )
    assert "empty" in (documents.upload_problem("t1", _uploaded(b"", 0)) or "")
    assert "not one of yours" in (documents.upload_problem("t2", _uploaded(b"%PDF-")) or "")
    png_as_pdf = _uploaded(b"\x89PNG\r\n\x1a\n", kind="application/pdf")
    assert "not a real PDF" in (documents.upload_problem("t1", png_as_pdf) or "")


# What the app checks itself of an upload form (moto does not enforce POST policies) -----
SECRET = b"unit-secret"
ISSUED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _issued_key(tid: str = "t1", name: str = "plan.pdf") -> str:
    return documents.upload_key(tid, documents.form_upload_id(ISSUED, "abcdefghijkl"), name)


def test_a_forms_key_says_when_the_form_expires() -> None:
    key = _issued_key()
    assert key == "uploads/t1/1795424400-abcdefghijkl/plan.pdf"
    assert documents.form_expiry("t1", key) == int(ISSUED.timestamp()) + documents.UPLOAD_SECONDS
    for not_a_form_key in (
        key.replace("uploads/t1/", "uploads/t2/"),  # another trainer's
        documents.upload_key("t1", "u1", "plan.pdf"),  # no issue time
        key.replace("/plan.pdf", "/a/plan.pdf"),  # a deeper path
        key.replace("/plan.pdf", "/"),
        documents.kept_key("t1", key),  # a kept file is no upload
    ):
        assert documents.form_expiry("t1", not_a_form_key) is None, not_a_form_key


def test_only_the_forms_own_signature_attaches_its_key() -> None:
    key = _issued_key()
    expires = documents.form_expiry("t1", key)
    assert expires is not None
    signature = documents.form_signature(SECRET, "t1", key, expires)
    assert documents.issued_expiry(SECRET, "t1", key, signature) == expires
    assert documents.issued_expiry(SECRET, "t1", key, "") is None
    assert documents.issued_expiry(SECRET, "t1", key, signature[:-1] + "x") is None
    assert documents.issued_expiry(b"another stage", "t1", key, signature) is None
    # The same signature does not carry over to another key, time or trainer.
    later = documents.upload_key(
        "t1", documents.form_upload_id(ISSUED + timedelta(hours=1), "abcdefghijkl"), "plan.pdf"
    )
    for other_key in (_issued_key(name="other.pdf"), later):
        assert documents.issued_expiry(SECRET, "t1", other_key, signature) is None
    theirs = _issued_key("t2")
    assert documents.issued_expiry(SECRET, "t2", theirs, signature) is None


def test_an_object_written_after_its_form_expired_is_refused() -> None:
    expires = int(ISSUED.timestamp()) + documents.UPLOAD_SECONDS

    def written(after: timedelta) -> Uploaded:
        return Uploaded(
            _issued_key(), 100, "application/pdf", b"%PDF-1.7", last_modified=ISSUED + after
        )

    in_time = written(timedelta(minutes=10, seconds=documents.CLOCK_SLACK_SECONDS))
    assert documents.upload_problem("t1", in_time, expires) is None
    late = written(timedelta(minutes=10, seconds=documents.CLOCK_SLACK_SECONDS + 1))
    assert documents.upload_problem("t1", late, expires) == documents.LATE
    assert documents.upload_problem("t1", late) is None  # no form to compare with


def test_a_checked_copy_keeps_the_upload_id_and_name_under_the_files_prefix() -> None:
    key = _issued_key()
    assert documents.kept_key("t1", key) == "trainers/t1/files/1795424400-abcdefghijkl/plan.pdf"
    assert documents.kept_key("t1", key).startswith(documents.files_prefix("t1"))
