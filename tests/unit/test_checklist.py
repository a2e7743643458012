"""The getting-started checklist: six steps in the spec's order, each ticked when done."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.checklist import ClientSetup, Step, getting_started
from chalicelib.domain.models import Location, Trainer
from chalicelib.domain.template import SlotDraft, WeeklyTemplate

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
STUDIO = Location(id="loc-studio", name="Studio")
ARCHIVED = Location(id="loc-old", name="Old gym", archived=True)


def trainer(**fields: object) -> Trainer:
    return Trainer(id="t1", email="sam@example.com", created_at=NOW, **fields)


def one_slot_template() -> WeeklyTemplate:
    draft = SlotDraft(weekday=0, start=540, end=600, location_id=STUDIO.id)
    return WeeklyTemplate().with_slot("s1", draft, [STUDIO])


def steps(
    who: Trainer | None = None,
    locations: list[Location] | None = None,
    template: WeeklyTemplate | None = None,
    clients: ClientSetup | None = None,
) -> list[Step]:
    return getting_started(
        who or trainer(),
        locations or [],
        template or WeeklyTemplate(),
        clients or ClientSetup(),
    )


def done(result: list[Step]) -> list[int]:
    return [step.number for step in result if step.done]


def test_there_are_six_steps_numbered_in_order():
    assert [step.number for step in steps()] == [1, 2, 3, 4, 5, 6]


def test_the_steps_follow_the_spec_order():
    assert [step.title for step in steps()] == [
        "Set up your locations",
        "Build your weekly template",
        "Add your first clients",
        "Configure each client",
        "Apply the template to upcoming weeks",
        "Share portal links and go live",
    ]


def test_a_new_trainer_has_nothing_ticked():
    assert done(steps()) == []


def test_every_step_has_a_detail_line():
    assert all(step.detail for step in steps())


def test_locations_and_template_steps_link_to_their_settings_pages():
    result = steps()
    assert result[0].href == "/dashboard/settings/locations"
    assert result[1].href == "/dashboard/settings/template"


def test_step_one_ticks_with_an_active_location():
    assert done(steps(locations=[STUDIO])) == [1]


def test_step_one_does_not_tick_with_only_archived_locations():
    assert done(steps(locations=[ARCHIVED])) == []


def test_step_one_ticks_when_one_of_several_locations_is_active():
    assert 1 in done(steps(locations=[ARCHIVED, STUDIO]))


def test_step_two_ticks_with_a_template_slot():
    assert done(steps(locations=[STUDIO], template=one_slot_template())) == [1, 2]


def test_step_two_ticks_on_the_template_alone():
    assert done(steps(template=one_slot_template())) == [2]


def test_step_two_unticks_when_the_last_slot_is_removed():
    assert done(steps(template=one_slot_template().without_slot("s1"))) == []


def test_step_three_ticks_with_a_client():
    assert done(steps(clients=ClientSetup(clients=1, configured=0))) == [3]


def test_step_four_ticks_when_every_client_is_configured():
    assert done(steps(clients=ClientSetup(clients=2, configured=2))) == [3, 4]


def test_step_four_waits_for_the_last_client_to_be_configured():
    assert 4 not in done(steps(clients=ClientSetup(clients=3, configured=2)))


def test_step_four_does_not_tick_without_clients():
    assert 4 not in done(steps(clients=ClientSetup(clients=0, configured=0)))


def test_step_five_ticks_once_the_template_has_been_applied():
    assert done(steps(who=trainer(template_applied_at=NOW))) == [5]


def test_step_six_ticks_once_every_active_clients_link_is_shared():
    assert 6 in done(steps(clients=ClientSetup(clients=2, configured=0, shared=2)))
    detail = steps(clients=ClientSetup(clients=3, configured=0, shared=1))[5].detail
    assert detail.endswith(": 1 of 3 shared.")


def test_step_six_waits_for_the_last_link_and_needs_a_client():
    assert 6 not in done(steps(clients=ClientSetup(clients=3, configured=0, shared=2)))
    assert 6 not in done(steps(clients=ClientSetup(clients=0, configured=0, shared=0)))


def test_everything_done_ticks_all_six_steps():
    result = steps(
        who=trainer(template_applied_at=NOW),
        locations=[STUDIO],
        template=one_slot_template(),
        clients=ClientSetup(clients=4, configured=4, shared=4),
    )
    assert done(result) == [1, 2, 3, 4, 5, 6]


def test_step_six_links_to_the_clients_and_has_no_coming_soon():
    assert steps()[5].href == "/dashboard/clients"


def test_step_five_links_to_the_schedule():
    assert steps()[4].href == "/dashboard/schedule"


@pytest.mark.parametrize("number", [3, 4])
def test_the_client_steps_link_to_the_clients_tab(number):
    assert steps()[number - 1].href == "/dashboard/clients"
