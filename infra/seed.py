"""Demo data for `make run`: a trainer with locations, a weekly template, clients with
recurring slots, the template applied to this week and the next, two program templates
and a bundle of six sessions for Ella.

Goes through the same services as the pages, so the demo obeys every rule a trainer does.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from chalicelib import runtime
from chalicelib.domain.clients import AddClient, SaveProfile
from chalicelib.domain.errors import Conflict, DomainError
from chalicelib.domain.grid import format_clock
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import PaymentDetails, TrainerSettings
from chalicelib.domain.template import SaveSlot
from chalicelib.domain.timeutil import local_today
from chalicelib.domain.tokens import new_id
from chalicelib.messaging.payloads import Inbound
from chalicelib.repo.repository import Repository
from chalicelib.services import (
    account,
    clients,
    conversations,
    messages,
    programs,
    schedule,
    sessions,
)
from chalicelib.services.deps import Deps

DEMO_EMAIL = "demo@ptbookings.local"

LOCATIONS = ("Riverside Studio", "Victoria Park", "Home visits")
# (weekday, start, end, location index)
TEMPLATE = (
    (0, 7 * 60, 8 * 60, 0),
    (0, 18 * 60, 19 * 60, 0),
    (1, 12 * 60, 13 * 60, 1),
    (2, 7 * 60, 8 * 60, 0),
    (2, 18 * 60, 19 * 60 + 30, 0),
    (3, 12 * 60, 13 * 60, 1),
    (4, 7 * 60, 8 * 60, 0),
    (4, 17 * 60, 18 * 60, 2),
    (5, 9 * 60, 10 * 60 + 30, 1),
)
# (name, phone, email, price, enabled locations, recurring template slots, shared, private)
CLIENTS = (
    ("Priya Shah", "07400 123456", "priya@example.com", "45", (0,), (1,), "Bring a towel.", ""),
    ("Tom Okafor", "07911 223344", "", "40", (0, 1), (2, 5), "", "Left knee: no deep lunges."),
    ("Ella Morgan", "+353 85 123 4567", "ella@ex.com", "50", (1,), (8,), "Meet at the gate.", ""),
    ("Jamie Lee", "07700 012345", "", "", (), (), "", "New: awaiting first session."),
)
# (title, sessions, price, location index, video link, documents)
PROGRAMS = (
    (
        "12-session coaching",
        "12",
        "540",
        0,
        "https://meet.example.com/sam-carter",
        (
            ("Training plan", "https://docs.example.com/training-plan.pdf"),
            ("Nutrition guide", "https://docs.example.com/nutrition.pdf"),
        ),
    ),
    (
        "Starter pack",
        "6",
        "250",
        1,
        "",
        (("Welcome guide", "https://docs.example.com/welcome.pdf"),),
    ),
)


def seed_demo(repo: Repository, now: datetime) -> str | None:
    """Create the demo trainer once; returns its id, or None if it already existed."""
    if repo.trainer_id_for_email(DEMO_EMAIL):
        return None
    trainer = Trainer(
        id=new_id(),
        email=DEMO_EMAIL,
        created_at=now,
        settings=TrainerSettings(
            business_name="Sam Carter PT",
            payment=PaymentDetails(
                scheme="uk",
                payee_name="Sam Carter",
                bank_name="Monzo",
                account_number="12345678",
                sort_code="04-00-04",
            ),
        ),
    )
    try:
        repo.create_trainer(trainer)
    except Conflict:
        return None
    deps = Deps(repo, runtime.links(), runtime.config(), now)
    location_ids = [account.add_location(repo, trainer.id, name).id for name in LOCATIONS]
    for weekday, start, end, location in TEMPLATE:
        version = repo.get_setup(trainer.id).template.version
        account.save_template_slot(
            deps,
            trainer.id,
            SaveSlot(
                weekday=str(weekday),
                start=format_clock(start),
                end=format_clock(end),
                location_id=location_ids[location],
                version=version,
            ),
        )
    template_ids = [slot.id for slot in repo.get_setup(trainer.id).template.slots]
    for name, phone, email, price, enabled, recurring, shared, private in CLIENTS:
        contact = AddClient(name=name, phone=phone, email=email, price=price)
        client = clients.add_client(repo, runtime.links(), trainer, contact, now)
        clients.save_profile(
            repo,
            trainer,
            repo.get_account(trainer.id),
            client,
            SaveProfile(
                **contact.model_dump(),
                client_id=client.id,
                location_ids=tuple(location_ids[i] for i in enabled),
                recurring=tuple(template_ids[i] for i in recurring),
                shared_notes=shared,
                private_notes=private,
                version=client.version,
            ),
        )
    # A populated schedule from the first start: this week's remaining slots and next week,
    # with the recurring clients booked (the same Apply template a trainer presses).
    stored = repo.get_trainer(trainer.id)
    assert stored is not None
    schedule.apply_template(repo, runtime.links(), stored, schedule.this_week(stored, now), 2, now)
    _seed_programs(repo, stored, location_ids, now)
    _seed_conversation(repo, stored, now)
    return trainer.id


def _seed_conversation(repo: Repository, trainer: Trainer, now: datetime) -> None:
    """Priya's conversation: her next session confirmed an hour ago, and her reply since,
    so the WhatsApp tab shows a conversation with an open window and one unread."""
    priya = next(c for c in repo.list_clients(trainer.id) if c.name == "Priya Shah")
    upcoming = repo.client_upcoming(trainer.id, priya.id, now, limit=1)
    if not upcoming:
        return
    messages.send_confirmation(
        repo,
        trainer,
        upcoming[0],
        new_id(),
        sessions.session_link_ref(runtime.config().public_base_url, trainer.id),
        now - timedelta(hours=1),
    )
    conversations.record_inbound(
        repo,
        Inbound(
            provider="twilio",
            from_e164=priya.phone,
            to="+14155238886",
            text="Thanks! Could we move next week's to 19:00?",
            provider_message_id="SM" + secrets.token_hex(16),
            received_at=now - timedelta(minutes=20),
        ),
    )


def _seed_programs(
    repo: Repository, trainer: Trainer, location_ids: list[str], now: datetime
) -> None:
    """The two templates, and Ella's Starter pack: Thursdays 09:00 from next week."""
    deps = Deps(repo, runtime.links(), runtime.config(), now)
    made = []
    for title, count, price, location, video, documents in PROGRAMS:
        form = {
            "title": title,
            "sessions": count,
            "price": price,
            "location_id": location_ids[location],
            "length": "60",
            "video_link": video,
        }
        for i, (name, url) in enumerate(documents):
            form[f"doc_name_{i}"], form[f"doc_url_{i}"] = name, url
        made.append(
            programs.save_template(deps, trainer, programs.SaveTemplate.model_validate(form))
        )
    ella = next(c for c in repo.list_clients(trainer.id) if c.name == "Ella Morgan")
    today = local_today(now, trainer.settings.time_zone)
    thursday = today + timedelta(days=7 - today.weekday() + 3)
    try:
        chosen = programs.StartDraft(client_id=ella.id, template_id=made[1].id)
        draft = programs.start_draft(deps, trainer, chosen)
        offer = programs.SaveOffer.model_validate(
            {**draft.offer.typed(), "draft_id": draft.id, "version": draft.version}
        )
        draft = programs.save_offer(deps, trainer, offer)
        dates = programs.SaveSchedule.model_validate(
            {
                "draft_id": draft.id,
                "version": draft.version,
                "action": "generate",
                "first_day": thursday.isoformat(),
                "first_time": "09:00",
                "every_weeks": "1",
            }
        )
        draft, _ = programs.save_schedule(deps, trainer, dates)
        validate = programs.CreateBundle(draft_id=draft.id, version=draft.version)
        programs.create_bundle(deps, trainer, validate)
    except DomainError:
        pass  # a demo without the bundle is still a demo
