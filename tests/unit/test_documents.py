"""The document rules (domain/documents.py): names made safe for a key, kinds by name
and type, and the check of an uploaded object by its size and first bytes."""

from __future__ import annotations

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
