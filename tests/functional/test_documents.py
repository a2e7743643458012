"""Uploaded documents through the real app (issue 17, items 1–3): the upload form, a file
handed back with its form's signature and checked, the template's documents, uploads in
the wizard's step 1, the wizard's sessions inheriting the file (also once the template
lost it), its short-lived links on the trainer's and the client's pages, and a rotated
portal link losing them. The browser's POST to S3 is played here by putting the object
where the presigned POST would (moto does not check POST policies); S3's clock (moto's)
follows the test clock, so a form's expiry is checked against the same time."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser

import boto3
import moto.s3.models
import pytest

from chalicelib import runtime
from chalicelib.domain import documents
from tests.functional.conftest import Browser
from tests.functional.test_locations_and_template import add_location
from tests.functional.test_programs import (
    OFFER,
    SESSION_LINK,
    create_template,
    fill_offer,
    generate,
    post_step,
    start_wizard,
    version_of,
    wizard_path,
)
from tests.functional.test_schedule_pages import add_client, trainer_id

BUCKET = "pt-bookings-test-documents"
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 60


@pytest.fixture
def bucket(chalice_client, clock, monkeypatch: pytest.MonkeyPatch) -> str:
    s3 = boto3.client("s3", region_name="eu-west-2")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setattr(moto.s3.models, "utcnow", lambda: clock.now.replace(tzinfo=None))
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


def posted(browser: Browser, body: bytes, filename: str = "nutrition.pdf") -> dict[str, str]:
    """An upload form asked for, and the browser's POST to the bucket played: the key
    and signature the page's script hands back."""
    kind = "image/png" if filename.endswith(".png") else "application/pdf"
    asked = ask_form(browser, filename, kind)
    assert asked.status == 200, asked.body
    made = json.loads(asked.body)
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=made["key"], Body=body, ContentType=made["fields"]["Content-Type"]
    )
    return {"key": made["key"], "signature": made["signature"]}


def kept(browser: Browser, upload: dict[str, str]) -> str:
    """Where the checked copy of an upload is: the key a document names."""
    return documents.kept_key(trainer_id(browser), upload["key"])


def upload(browser: Browser, template: str, body: bytes, name: str = "Nutrition sheet"):
    made = posted(browser, body)
    path = f"/dashboard/programs/templates/{template}"
    version = version_of(browser.get(path).body)
    return made["key"], browser.post(
        f"{path}/documents", {**made, "name": name, "version": version}
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
    assert made["key"].startswith(f"uploads/{trainer_id(trainer)}/")
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
                "doc_key_2": documents.kept_key(trainer_id(trainer), key),
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
        "doc_key_2": documents.kept_key(trainer_id(trainer), key),
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
    asked = posted(trainer, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "warm-up.png")
    page = trainer.get(first)
    assert "Add a file" in page.body
    assert (
        f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com"
        in page.headers["content-security-policy"]
    )
    version = version_of(page.body)
    added = trainer.post(
        f"{first}/documents",
        {"action": "add", **asked, "name": "Warm-up", "version": version},
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
    assert _exists(kept(trainer, asked))  # removing never deletes: another session may hand it out
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
    asked = posted(trainer, PDF, "meals.pdf")
    page = trainer.get(path)
    assert (
        f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com"
        in page.headers["content-security-policy"]
    )
    added = trainer.post(
        path,
        {
            "action": "add_document",
            **asked,
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

    key = kept(trainer, asked)
    evil = posted(trainer, EXE, "evil.pdf")
    fake = evil["key"]
    refused = trainer.post(
        path,
        {
            "action": "add_document",
            **evil,
            "name": "Evil",
            "version": version_of(trainer.get(path).body),
        },
    )
    assert refused.status == 400 and "not a real PDF" in refused.body
    assert not _exists(fake) and _exists(key)


# Uploads in the wizard's step 1 ------------------------------------------------------------
class _Forms(HTMLParser):
    """Each form's fields as a browser would post them (no button, no file input, a
    checkbox only when ticked, a select's chosen option)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self._select = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({})
        elif not self.forms or ("name" not in a and tag != "option"):
            return
        elif tag == "input" and a.get("type") not in ("file", "submit"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.forms[-1][a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
        elif (
            tag == "option"
            and self._select
            and ("selected" in a or self._select not in self.forms[-1])
        ):
            self.forms[-1][self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = ""


def offer_as_shown(browser: Browser, draft: str) -> dict[str, str]:
    """Step 1's offer form as the page draws it (the draft's own values)."""
    parser = _Forms()
    parser.feed(html.unescape(browser.get(wizard_path(draft, "offer")).body))
    return next(f for f in parser.forms if "title" in f)


def attach_in_step_one(browser: Browser, draft: str, upload: dict[str, str], **typed: str):
    return browser.post(
        wizard_path(draft, "offer"),
        {**offer_as_shown(browser, draft), **typed, **upload, "action": "attach_file"},
    )


def finish_wizard(browser: Browser, draft: str, listing: str = "") -> str:
    """Steps 1 (as shown), 2 and 3 (whose summary lists `listing`): the bundle's path."""
    shown = browser.post(
        wizard_path(draft, "offer"), {**offer_as_shown(browser, draft), "action": "next"}
    )
    assert shown.status == 303 and shown.location.endswith("/schedule"), shown.body
    assert generate(browser, draft, "2026-12-01", "10:00").status == 303
    assert listing in html.unescape(browser.get(wizard_path(draft, "confirm")).body)
    created = post_step(browser, draft, "confirm", {"action": "create"})
    assert created.status == 303, created.body
    return created.location.split("?")[0]


FILE_LINK = r'<a href="https://[^"]+/{key}\?[^"]*X-Amz-Signature=[^"]+"[^>]*>{name}</a>'


def test_a_file_uploaded_in_step_one_joins_the_draft_and_reaches_every_session(
    trainer: Browser, scene
) -> None:
    draft = start_wizard(trainer, scene["priya"])
    page = trainer.get(wizard_path(draft, "offer"))
    assert "Upload a document" in page.body and "data-upload-button" in page.body
    assert (
        f"connect-src 'self' https://{BUCKET}.s3.amazonaws.com"
        in page.headers["content-security-policy"]
    )
    made = posted(trainer, PDF, "plan.pdf")
    # Typed but never saved: the upload saves it as typed along with the file.
    typed = {**OFFER, "location_id": scene["studio"], "title": "Spring block"}
    attached = attach_in_step_one(trainer, draft, made, **typed, name="Training plan PDF")
    assert attached.status == 303 and "saved=file" in attached.location, attached.body
    page = html.unescape(trainer.get(attached.location).body)
    assert "File uploaded" in page and "File: plan.pdf" in page
    shown = offer_as_shown(trainer, draft)
    assert shown["title"] == "Spring block" and shown["doc_name_2"] == "Training plan PDF"
    assert (shown["doc_key_2"], shown["doc_content_type_2"], shown["doc_size_2"]) == (
        kept(trainer, made),
        "application/pdf",
        str(len(PDF)),
    )
    assert shown["doc_name_0"] == "Training plan"  # the link rows stay as they were
    assert _exists(kept(trainer, made)) and not _exists(made["key"])

    bundle = finish_wizard(trainer, draft, "Training plan, Meal guide, Training plan PDF")
    link = FILE_LINK.format(key=re.escape(kept(trainer, made)), name="Training plan PDF")
    body = html.unescape(trainer.get(bundle).body)
    assert re.search(link, body)
    sessions = SESSION_LINK.findall(body)
    assert len(sessions) == 12
    for path in (sessions[0], sessions[-1]):
        assert re.search(link, html.unescape(trainer.get(path).body))


def test_a_refused_step_one_upload_is_deleted_and_what_was_typed_is_kept(
    trainer: Browser, scene, clock
) -> None:
    draft = start_wizard(trainer, scene["priya"])
    typed = {**OFFER, "location_id": scene["studio"], "title": "Typed, never saved"}

    exe = posted(trainer, EXE, "plan.pdf")
    refused = attach_in_step_one(trainer, draft, exe, **typed)
    assert refused.status == 400 and "not a real PDF" in refused.body
    assert 'id="file-error"' in refused.body and 'aria-invalid="true"' in refused.body
    assert not _exists(exe["key"]) and not _exists(kept(trainer, exe))
    shown = offer_as_shown(trainer, draft)  # a reload: the typed offer was saved
    assert shown["title"] == "Typed, never saved" and "doc_key_2" not in shown

    forged = posted(trainer, PDF, "plan.pdf")
    refused = attach_in_step_one(trainer, draft, {**forged, "signature": "forged"})
    assert refused.status == 400 and "did not come from this page" in html.unescape(refused.body)
    assert not _exists(forged["key"])

    asked = json.loads(ask_form(trainer, "late.pdf", "application/pdf").body)
    clock.advance(minutes=11)  # the form is posted again once it expired
    boto3.client("s3", region_name="eu-west-2").put_object(
        Bucket=BUCKET, Key=asked["key"], Body=PDF, ContentType="application/pdf"
    )
    late = {"key": asked["key"], "signature": asked["signature"]}
    refused = attach_in_step_one(trainer, draft, late)
    assert refused.status == 400 and "arrived after its form expired" in refused.body
    assert not _exists(asked["key"])

    no_script = attach_in_step_one(trainer, draft, {"key": "", "signature": ""})
    assert no_script.status == 400 and "uploads need JavaScript" in no_script.body
    assert "doc_key_2" not in offer_as_shown(trainer, draft)


def test_step_one_takes_five_documents_at_most(trainer: Browser, scene) -> None:
    draft = start_wizard(trainer, scene["priya"])
    full = {
        **OFFER,
        "location_id": scene["studio"],
        **{f"doc_name_{i}": f"Sheet {i}" for i in (2, 3, 4)},
        **{f"doc_url_{i}": f"https://docs.example.com/{i}.pdf" for i in (2, 3, 4)},
    }
    made = posted(trainer, PDF)
    refused = attach_in_step_one(trainer, draft, made, **full)
    assert refused.status == 400 and "A bundle has at most 5 documents" in refused.body
    assert not _exists(made["key"]) and not _exists(kept(trainer, made))
    assert offer_as_shown(trainer, draft)["doc_name_4"] == "Sheet 4"  # kept as typed


def test_a_stale_step_one_upload_changes_nothing_and_is_deleted(trainer: Browser, scene) -> None:
    draft = start_wizard(trainer, scene["priya"])
    before = offer_as_shown(trainer, draft)
    assert fill_offer(trainer, draft, scene["studio"]).status == 303  # another tab saved
    made = posted(trainer, PDF)
    stale = trainer.post(wizard_path(draft, "offer"), {**before, **made, "action": "attach_file"})
    assert stale.status == 409
    assert "doc_key_2" not in offer_as_shown(trainer, draft)
    assert not _exists(made["key"]) and not _exists(kept(trainer, made))  # refused: deleted


def test_the_drafts_rows_are_checked_again_so_no_unchecked_upload_slips_in(
    trainer: Browser, scene
) -> None:
    draft = start_wizard(trainer, scene["priya"])
    made = posted(trainer, EXE, "plan.pdf")  # in the bucket, never checked
    row = {"doc_name_2": "Plan", "doc_content_type_2": "application/pdf", "doc_size_2": "64"}
    for key in (made["key"], f"trainers/{trainer_id(trainer)}/plan.pdf"):
        refused = fill_offer(trainer, draft, scene["studio"], **row, doc_key_2=key)
        assert refused.status == 400 and "That file is not one of yours" in refused.body
    # A checked file's row claiming another type than its name says was altered.
    draft = start_wizard(trainer, scene["priya"])
    png = posted(trainer, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "warm-up.png")
    typed = {**OFFER, "location_id": scene["studio"]}
    assert attach_in_step_one(trainer, draft, png, **typed).status == 303
    shown = offer_as_shown(trainer, draft)
    assert shown["doc_key_2"] == kept(trainer, png)
    altered = trainer.post(
        wizard_path(draft, "offer"),
        {**shown, "doc_content_type_2": "application/pdf", "action": "next"},
    )
    assert altered.status == 400 and "damaged" in altered.body
    shown = offer_as_shown(trainer, draft)
    assert shown["doc_content_type_2"] == "application/pdf"  # saved as typed, refused
    fixed = trainer.post(
        wizard_path(draft, "offer"),
        {**shown, "doc_content_type_2": "image/png", "action": "next"},
    )
    assert fixed.status == 303


def test_a_document_the_template_loses_while_the_wizard_is_open_stays_in_the_draft(
    trainer: Browser, scene, chalice_client
) -> None:
    key, attached = upload(trainer, scene["template"], PDF)
    assert attached.status == 303, attached.body
    draft = start_wizard(trainer, scene["priya"], scene["template"])
    assert offer_as_shown(trainer, draft)["doc_key_2"] == documents.kept_key(
        trainer_id(trainer), key
    )

    # In another tab the template loses its file.
    path = f"/dashboard/programs/templates/{scene['template']}"
    parser = _Forms()
    parser.feed(html.unescape(trainer.get(path).body))
    template_form = next(f for f in parser.forms if "title" in f)
    removed = trainer.post(path, {**template_form, "doc_remove_2": "on", "action": "save"})
    assert removed.status == 303, removed.body
    assert "File: " not in trainer.get(path).body

    # The wizard still holds its copy, and finishes with it.
    assert "File: nutrition.pdf" in html.unescape(trainer.get(wizard_path(draft, "offer")).body)
    bundle = html.unescape(trainer.get(finish_wizard(trainer, draft, "Nutrition sheet")).body)
    file = documents.kept_key(trainer_id(trainer), key)
    link = FILE_LINK.format(key=re.escape(file), name="Nutrition sheet")
    assert re.search(link, bundle)
    first = SESSION_LINK.findall(bundle)[0]
    assert re.search(link, html.unescape(trainer.get(first).body))
    assert _exists(file)  # removing it from the template deleted nothing
    # A template made afterwards from the same page no longer hands it out.
    later = start_wizard(trainer, scene["priya"], scene["template"])
    assert "doc_key_2" not in offer_as_shown(trainer, later)
