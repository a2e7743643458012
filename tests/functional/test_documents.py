"""Uploaded documents through the real app (issue 17, items 1–3 as built so far): the
upload form, a file handed back and checked, the template's documents, the wizard's
sessions inheriting the file, its short-lived links on the trainer's and the client's
pages, and a rotated portal link losing them. The browser's POST to S3 is played here by
putting the object where the presigned POST would (moto does not check POST policies)."""

from __future__ import annotations

import html
import json
import re

import boto3
import pytest

from chalicelib import runtime
from chalicelib.domain import documents
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_programs import (
    OFFER,
    SESSION_LINK,
    create_template,
    post_step,
    start_wizard,
    version_of,
)
from tests.functional.test_schedule_pages import add_client, trainer_id

BUCKET = "pt-bookings-test-documents"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60


@pytest.fixture
def bucket(chalice_client, monkeypatch: pytest.MonkeyPatch) -> str:
    boto3.client("s3", region_name="eu-west-2").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    monkeypatch.setenv("DOCUMENTS_BUCKET", BUCKET)
    return BUCKET


@pytest.fixture
def scene(trainer: Browser, clock, bucket: str) -> dict[str, str]:
    studio = add_location(trainer, "Studio")
    priya = add_client(trainer, "Priya Shah")
    template = create_template(trainer, studio)
    return {"studio": studio, "priya": priya, "template": template}


def ask_form(browser: Browser, filename: str, content_type: str):
    return browser.post(
        "/dashboard/documents/upload-form", {"filename": filename, "content_type": content_type}
    )


def upload(browser: Browser, template: str, body: bytes, name: str = "Nutrition sheet"):
    asked = ask_form(browser, "nutrition.pdf", "application/pdf")
    assert asked.status == 200, asked.body
    made = json.loads(asked.body)
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=made["key"], Body=body, ContentType=made["fields"]["Content-Type"]
    )
    path = f"/dashboard/programs/templates/{template}"
    version = version_of(browser.get(path).body)
    return made["key"], browser.post(
        f"{path}/documents", {"key": made["key"], "name": name, "version": version}
    )


def _exists(key: str) -> bool:
    found = boto3.client("s3", region_name="eu-west-2").list_objects_v2(Bucket=BUCKET, Prefix=key)
    return bool(found.get("KeyCount"))


def test_the_upload_form_is_a_presigned_post_for_one_key_under_the_trainers_prefix(
    trainer: Browser, scene
) -> None:
    asked = ask_form(trainer, "plan.pdf", "application/pdf")
    assert asked.status == 200 and asked.headers["content-type"] == "application/json"
    made = json.loads(asked.body)
    assert made["key"].startswith(f"trainers/{trainer_id(trainer)}/uploads/")
    assert made["fields"]["key"] == made["key"] and "policy" in made["fields"]
    refused = ask_form(trainer, "setup.exe", "application/x-msdownload")
    assert refused.status == 400
    assert json.loads(refused.body) == {"error": "Upload a PDF, JPEG or PNG file (up to 10 MB)."}
    page = trainer.get(f"/dashboard/programs/templates/{scene['template']}")
    assert "Upload a document" in page.body
    csp = page.headers["content-security-policy"]
    assert f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com" in csp


def test_an_uploaded_pdf_reaches_the_wizards_sessions_and_the_clients_page(
    trainer: Browser, scene, chalice_client
) -> None:
    key, attached = upload(trainer, scene["template"], PDF)
    assert attached.status == 303 and "saved=file" in attached.location, attached.body
    page = html.unescape(trainer.get(f"/dashboard/programs/templates/{scene['template']}").body)
    assert "File uploaded" in trainer.get(attached.location).body
    assert "File: nutrition.pdf" in page and 'value="Nutrition sheet"' in page

    draft = start_wizard(trainer, scene["priya"], scene["template"])
    assert (
        post_step(
            trainer,
            draft,
            "offer",
            {
                **OFFER,
                "location_id": scene["studio"],
                "action": "next",
                "doc_name_2": "Nutrition sheet",
                "doc_key_2": key,
                "doc_content_type_2": "application/pdf",
                "doc_size_2": str(len(PDF)),
            },
        ).status
        == 303
    )
    assert (
        post_step(
            trainer,
            draft,
            "schedule",
            {
                "action": "generate",
                "first_day": "2026-12-01",
                "first_time": "10:00",
                "every_weeks": "1",
            },
        ).status
        == 303
    )
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    assert created.status == 303, created.body
    bundle = html.unescape(trainer.get(created.location.split("?")[0]).body)
    link = re.search(r'<a href="([^"]+)"[^>]*>Nutrition sheet</a>', bundle)
    assert (
        link
        and link.group(1).startswith(f"https://{BUCKET}.s3")
        and "X-Amz-Expires=600" in link.group(1)
    )
    first = SESSION_LINK.findall(bundle)[0]
    session_page = html.unescape(trainer.get(first).body)
    assert re.search(
        r'<a href="https://[^"]+X-Amz-Signature=[^"]+"[^>]*>Nutrition sheet</a>', session_page
    )

    # The client's portal lists the bundle's documents with fresh links.
    from tests.functional.test_portal_link import portal_path

    home = html.unescape(trainer.get(portal_path(trainer, scene["priya"])).body)
    assert re.search(r'<a href="https://[^"]+X-Amz-Signature=[^"]+"[^>]*>Nutrition sheet</a>', home)
    # The client's /s/ page draws a fresh link; a rotated portal link loses it at once.
    repo = runtime.repository()
    tid = trainer_id(trainer)
    client = repo.get_client(tid, scene["priya"])
    sessions = [s for s in repo.client_sessions(tid, client.id, runtime.now())[0]]
    token = runtime.links().session(tid, client.id, client.portal_generation, sessions[0].id)
    portal = html.unescape(trainer.client.http.get(f"/s/{token}").body.decode())
    assert re.search(
        r'<a href="https://[^"]+X-Amz-Signature=[^"]+"[^>]*>Nutrition sheet</a>', portal
    )
    trainer.post(
        f"/dashboard/clients/{client.id}",
        {"action": "rotate", "version": str(client.version)},
    )
    assert trainer.client.http.get(f"/s/{token}").status_code == 410


def test_an_exe_renamed_pdf_is_refused_and_deleted(trainer: Browser, scene) -> None:
    key, refused = upload(trainer, scene["template"], EXE)
    assert refused.status == 400 and "not a real PDF" in refused.body
    assert not _exists(key)
    page = trainer.get(f"/dashboard/programs/templates/{scene['template']}").body
    assert "File: " not in page


def test_another_trainers_upload_cannot_be_attached(
    trainer: Browser, other_trainer: Browser, scene
) -> None:
    theirs = documents.upload_key(trainer_id(other_trainer), "x1", "plan.pdf")
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=theirs, Body=PDF, ContentType="application/pdf"
    )
    path = f"/dashboard/programs/templates/{scene['template']}"
    refused = trainer.post(
        f"{path}/documents",
        {"key": theirs, "name": "Theirs", "version": version_of(trainer.get(path).body)},
    )
    assert refused.status == 400 and "not one of yours" in refused.body
    assert _exists(theirs)
    # nor smuggled in through the template form's hidden fields
    saved = trainer.post(
        path,
        {
            **OFFER,
            "location_id": scene["studio"],
            "version": version_of(trainer.get(path).body),
            "doc_name_2": "Theirs",
            "doc_key_2": theirs,
            "doc_content_type_2": "application/pdf",
            "doc_size_2": "10",
        },
    )
    assert saved.status == 400 and "not one of yours" in saved.body


def test_a_template_save_keeps_its_file_and_a_ticked_remove_drops_it(
    trainer: Browser, scene
) -> None:
    key, attached = upload(trainer, scene["template"], PDF)
    assert attached.status == 303
    path = f"/dashboard/programs/templates/{scene['template']}"
    row = {
        "doc_name_2": "Nutrition",
        "doc_key_2": key,
        "doc_content_type_2": "application/pdf",
        "doc_size_2": str(len(PDF)),
    }
    kept = trainer.post(
        path,
        {
            **OFFER,
            "location_id": scene["studio"],
            "version": version_of(trainer.get(path).body),
            **row,
        },
    )
    assert kept.status == 303, kept.body
    assert 'value="Nutrition"' in trainer.get(path).body
    removed = trainer.post(
        path,
        {
            **OFFER,
            "location_id": scene["studio"],
            "version": version_of(trainer.get(path).body),
            **row,
            "doc_remove_2": "on",
        },
    )
    assert removed.status == 303
    assert "File: " not in trainer.get(path).body


def test_a_session_adds_and_removes_its_own_file(trainer: Browser, scene) -> None:
    draft = start_wizard(trainer, scene["priya"], scene["template"])
    assert (
        post_step(
            trainer, draft, "offer", {**OFFER, "location_id": scene["studio"], "action": "next"}
        ).status
        == 303
    )
    assert (
        post_step(
            trainer,
            draft,
            "schedule",
            {
                "action": "generate",
                "first_day": "2026-12-01",
                "first_time": "10:00",
                "every_weeks": "1",
            },
        ).status
        == 303
    )
    created = post_step(trainer, draft, "confirm", {"action": "create"})
    first = SESSION_LINK.findall(trainer.get(created.location.split("?")[0]).body)[0]
    asked = json.loads(ask_form(trainer, "warm-up.png", "image/png").body)
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET,
        Key=asked["key"],
        Body=b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        ContentType="image/png",
    )
    page = trainer.get(first)
    assert "Add a file" in page.body
    assert (
        f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com"
        in page.headers["content-security-policy"]
    )
    version = version_of(page.body)
    added = trainer.post(
        f"{first}/documents",
        {"action": "add", "key": asked["key"], "name": "Warm-up", "version": version},
    )
    assert added.status == 303, added.body
    page = html.unescape(trainer.get(first).body)
    assert re.search(r'<a href="https://[^"]+X-Amz-Signature=[^"]+"[^>]*>Warm-up</a>', page)
    assert "Document added: Warm-up" in page  # the session's log
    stale = trainer.post(
        f"{first}/documents", {"action": "remove", "index": "2", "version": version}
    )
    assert stale.status == 409
    removed = trainer.post(
        f"{first}/documents",
        {"action": "remove", "index": "2", "version": version_of(trainer.get(first).body)},
    )
    assert removed.status == 303
    page = html.unescape(trainer.get(first).body)
    assert ">Warm-up</a>" not in page and "Document removed: Warm-up" in page
    assert _exists(asked["key"])  # removing never deletes: another session may hand it out
    other = SESSION_LINK.findall(trainer.get(created.location.split("?")[0]).body)[1]
    assert "Warm-up" not in trainer.get(other).body  # its own, not the bundle's


def test_a_file_added_to_a_bundle_reaches_its_upcoming_sessions_and_leaves_with_it(
    trainer: Browser, scene, clock
) -> None:
    from tests.functional.test_programs import create_bundle

    bundle = create_bundle(trainer, scene["studio"], scene["priya"])
    path = f"/dashboard/bundles/{bundle}"
    sessions = SESSION_LINK.findall(trainer.get(path).body)
    clock.advance(days=9)  # 1 Dec has taken place
    asked = json.loads(ask_form(trainer, "meals.pdf", "application/pdf").body)
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=asked["key"], Body=PDF, ContentType="application/pdf"
    )
    page = trainer.get(path)
    assert (
        f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com"
        in page.headers["content-security-policy"]
    )
    added = trainer.post(
        path,
        {
            "action": "add_document",
            "key": asked["key"],
            "name": "Meal plan",
            "version": version_of(page.body),
        },
    )
    assert added.status == 303, added.body
    assert ">Meal plan</a>" in trainer.get(path).body
    assert ">Meal plan</a>" not in trainer.get(sessions[0]).body  # it took place before
    assert all(">Meal plan</a>" in trainer.get(s).body for s in sessions[1:])
    assert "Document added to the bundle: Meal plan" in trainer.get(sessions[1]).body

    index = html.unescape(trainer.get(path).body).count('name="index"') - 1
    removed = trainer.post(
        path,
        {
            "action": "remove_document",
            "index": str(index),
            "version": version_of(trainer.get(path).body),
        },
    )
    assert removed.status == 303, removed.body
    assert ">Meal plan</a>" not in trainer.get(path).body
    assert all(">Meal plan</a>" not in trainer.get(s).body for s in sessions[1:])

    key, _ = asked["key"], None
    fake = documents.upload_key(trainer_id(trainer), "x9", "evil.pdf")
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=fake, Body=EXE, ContentType="application/pdf"
    )
    refused = trainer.post(
        path,
        {
            "action": "add_document",
            "key": fake,
            "name": "Evil",
            "version": version_of(trainer.get(path).body),
        },
    )
    assert refused.status == 400 and "not a real PDF" in refused.body
    assert not _exists(fake) and _exists(key)
