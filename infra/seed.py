"""Demo data for `make run`: a trainer with locations, a weekly template, clients with
recurring slots, and the template applied to this week and the next.

Goes through the same services as the pages, so the demo obeys every rule a trainer does.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib import runtime
from chalicelib.domain.errors import Conflict
from chalicelib.domain.grid import format_clock
from chalicelib.domain.models import Trainer
from chalicelib.domain.settings import PaymentDetails, TrainerSettings
from chalicelib.domain.tokens import new_id
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, schedule

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
    location_ids = [account.add_location(repo, trainer.id, name).id for name in LOCATIONS]
    for weekday, start, end, location in TEMPLATE:
        version = repo.get_setup(trainer.id).template.version
        account.add_template_slot(
            repo,
            trainer.id,
            {
                "weekday": str(weekday),
                "start": format_clock(start),
                "end": format_clock(end),
                "location_id": location_ids[location],
                "version": str(version),
            },
        )
    template_ids = [slot.id for slot in repo.get_setup(trainer.id).template.slots]
    for name, phone, email, price, enabled, recurring, shared, private in CLIENTS:
        client = clients.add_client(
            repo,
            trainer,
            {"name": name, "phone": phone, "email": email, "price": price},
            now,
            runtime.link_secret(),
        )
        clients.save_profile(
            repo,
            trainer,
            repo.get_account(trainer.id),
            client,
            {
                "name": name,
                "phone": phone,
                "email": email,
                "price": price,
                "shared_notes": shared,
                "private_notes": private,
                "version": str(client.version),
            },
            [location_ids[i] for i in enabled],
            [template_ids[i] for i in recurring],
        )
    # A populated schedule from the first start: this week's remaining slots and next week,
    # with the recurring clients booked (the same Apply template a trainer presses).
    stored = repo.get_trainer(trainer.id)
    assert stored is not None
    schedule.apply_template(repo, stored, schedule.this_week(stored, now), 2, now)
    return trainer.id
