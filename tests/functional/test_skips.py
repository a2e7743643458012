"""Skip a week / pause (issue 15 item 2), through the use cases a request runs: the
profile's Skip a date, Pause and Resume (every bad input, `unchanged`, a stale page), the
portal's "Skip this week" (before and inside the deadline, someone else's session), and
Apply template across a skip and a pause.

Priya holds the template's Wednesday 18:00–19:00 at the Studio; Omar holds nothing. The
clock is Monday 23 Nov 2026 09:00 UTC; the trainer's deadline is 36 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from chalicelib import runtime
from chalicelib.domain.clients import Client
from chalicelib.domain.errors import InvalidInput, VersionConflict
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session, SessionRef
from chalicelib.domain.template import SaveSlot
from chalicelib.repo.repository import Repository
from chalicelib.services import account, clients, portal, schedule
from chalicelib.services.clients import PauseRecurring, ResumeSkip, SkipDate
from chalicelib.web import forms
from tests.support.builders import NOW, add_client, add_location, make_trainer, trainer_of
from tests.support.pages import counted, deps_for
from tests.support.table import unchanged

WED_2_DEC, WED_9_DEC, WED_16_DEC = date(2026, 12, 2), date(2026, 12, 9), date(2026, 12, 16)


@dataclass(frozen=True)
class Scene:
    trainer: Trainer
    template_slot: str
    priya: Client
    omar: Client

    def client(self, repo: Repository, who: Client) -> Client:
        return repo.get_client(self.trainer.id, who.id)


@pytest.fixture
def scene(repo: Repository) -> Scene:
    return make_scene(repo)


def make_scene(repo: Repository) -> Scene:
    trainer = make_trainer(repo)
    trainer, studio = add_location(repo, trainer, "Studio")
    account.save_template_slot(
        deps_for(repo),
        trainer.id,
        SaveSlot(weekday="2", start="18:00", end="19:00", location_id=studio, version=0),
    )
    template_slot = repo.get_setup(trainer.id).template.slots[0].id
    priya = add_client(repo, trainer, "Priya Shah", (studio,), recurring=(template_slot,))
    omar = add_client(repo, trainer, "Omar Haddad", (studio,))
    return Scene(trainer_of(repo, trainer.id), template_slot, priya, omar)


def _apply(repo: Repository, scene: Scene, first: str = "2026-W49", weeks: int = 2):
    return schedule.apply_template(repo, runtime.links(), scene.trainer, first, weeks, NOW)


def _week(day: date) -> str:
    year, number, _ = day.isocalendar()
    return f"{year}-W{number:02d}"


def _sessions_on(repo: Repository, scene: Scene, day: date) -> list[Session]:
    week = repo.get_week_with_sessions(
        scene.trainer.id, f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
    )
    return [s for s in week.sessions if s.day == day]


def _slot_open_on(repo: Repository, scene: Scene, day: date) -> bool:
    week = repo.get_week_with_sessions(
        scene.trainer.id, f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
    )
    slots = [s for s in week.slots if s.day == day]
    assert len(slots) == 1
    return slots[0].session_id is None


def _skip(repo: Repository, scene: Scene, day: str, **form: str) -> clients.SkipsChanged:
    current = scene.client(repo, scene.priya)
    typed = {
        "skip_slot": scene.template_slot,
        "skip_day": day,
        "version": str(current.version),
        **form,
    }
    command = forms.command(SkipDate, typed, client_id=scene.priya.id)
    return clients.change_skips(deps_for(repo), scene.trainer, command)


def _pause(
    repo: Repository, scene: Scene, first: str, last: str, **form: str
) -> clients.SkipsChanged:
    current = scene.client(repo, scene.priya)
    typed = {"pause_from": first, "pause_to": last, "version": str(current.version), **form}
    command = forms.command(PauseRecurring, typed, client_id=scene.priya.id)
    return clients.change_skips(deps_for(repo), scene.trainer, command)


# The profile ------------------------------------------------------------------------------
def test_skipping_a_booked_date_cancels_that_session_keeps_its_record_and_opens_its_slot(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    [booked] = _sessions_on(repo, scene, WED_9_DEC)
    assert booked.is_live and not _slot_open_on(repo, scene, WED_9_DEC)

    done = _skip(repo, scene, "2026-12-09")

    assert not done.unchanged and [s.id for s in done.canceled] == [booked.id]
    [kept] = _sessions_on(repo, scene, WED_9_DEC)
    assert kept.id == booked.id and kept.status == "canceled"  # the record stays
    assert _slot_open_on(repo, scene, WED_9_DEC)
    _, log = repo.get_session_with_log(
        scene.trainer.id, SessionRef(kept.week, kept.start_utc, kept.id)
    )
    assert any("Canceled by the trainer" in getattr(line, "text", "") for line in log)
    assert any(getattr(line, "kind", "") == "cancel_notice" for line in log)  # Priya is told
    # The other week is untouched, and the skip is listed on the profile with its Resume.
    assert all(s.is_live for s in _sessions_on(repo, scene, WED_2_DEC))
    page = clients.profile_page(deps_for(repo), scene.trainer, scene.priya.id, "https://pt.test")
    assert [(i.label, i.kind, i.key) for i in page.away.listed] == [
        ("Skip 9 Dec 2026: Wednesday 18:00–19:00", "date", f"{scene.template_slot}@2026-12-09")
    ]
    assert [(c.label, c.first_day) for c in page.away.choices] == [
        ("Wednesday 18:00–19:00", date(2026, 11, 25))
    ]


def test_skipping_the_same_date_again_is_unchanged(repo: Repository, scene: Scene) -> None:
    _skip(repo, scene, "2026-12-09")
    stale_version = str(scene.priya.version)  # a second click from the same page
    with unchanged(repo):
        again = _skip(repo, scene, "2026-12-09", version=stale_version)
    assert again.unchanged and again.canceled == ()


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        (
            {"skip_day": "2026-12-10"},
            {"skip_day": "10 Dec is a Thursday: Wednesday 18:00–19:00 is not on it."},
        ),
        ({"skip_day": "2026-11-18"}, {"skip_day": "18 Nov is in the past: choose a coming date."}),
        ({"skip_day": ""}, {"skip_day": "Choose the date to skip."}),
        ({"skip_slot": "not-hers"}, {"skip_slot": "That is not one of Priya's recurring slots."}),
    ],
)
def test_a_bad_date_to_skip_is_refused_with_its_input_named_and_nothing_written(
    repo: Repository, scene: Scene, form: dict[str, str], errors: dict[str, str]
) -> None:
    _apply(repo, scene)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        _skip(repo, scene, "2026-12-09", **form)
    assert forms.errors(SkipDate, refused.value) == errors


def test_a_date_that_is_not_a_date_is_refused_by_the_command() -> None:
    with pytest.raises(InvalidInput) as refused:
        forms.command(SkipDate, {"skip_slot": "t", "skip_day": "next week"}, client_id="c")
    assert refused.value.errors == {"skip_day": "Enter a date, for example 2026-12-14."}
    with pytest.raises(InvalidInput) as refused:
        forms.command(
            PauseRecurring, {"pause_from": "soon", "pause_to": "2026-12-01"}, client_id="c"
        )
    assert refused.value.errors == {"pause_from": "Enter a date, for example 2026-12-14."}


def test_a_pause_whose_end_is_before_its_start_is_refused_and_nothing_written(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        _pause(repo, scene, "2026-12-14", "2026-12-01")
    assert forms.errors(PauseRecurring, refused.value) == {
        "pause_to": "The pause ends (1 Dec) before it starts (14 Dec): "
        "choose a last day on or after the first."
    }
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        _pause(repo, scene, "", "")
    assert set(forms.errors(PauseRecurring, refused.value)) == {"pause_from", "pause_to"}


def test_a_stale_profile_page_is_refused_and_the_write_itself_refuses_a_stale_client(
    repo: Repository, scene: Scene
) -> None:
    drawn = scene.client(repo, scene.priya)
    _pause(repo, scene, "2026-12-20", "2026-12-31")  # another tab, meanwhile
    with unchanged(repo), pytest.raises(VersionConflict):
        _skip(repo, scene, "2026-12-09", version=str(drawn.version))
    # Even past the service's check, the write is conditional on the version read.
    with unchanged(repo), pytest.raises(VersionConflict):
        repo.save_client(scene.trainer.id, drawn, skips=drawn.skips)


def test_a_pause_cancels_every_booked_recurring_session_inside_it_and_resume_is_one_click(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    done = _pause(repo, scene, "2026-11-30", "2026-12-14")
    assert sorted(s.day for s in done.canceled) == [WED_2_DEC, WED_9_DEC]
    assert _slot_open_on(repo, scene, WED_2_DEC) and _slot_open_on(repo, scene, WED_9_DEC)
    page = clients.profile_page(deps_for(repo), scene.trainer, scene.priya.id, "https://pt.test")
    [listed] = page.away.listed
    assert listed.label == "Pause from 30 Nov to 14 Dec 2026" and listed.kind == "pause"

    current = scene.client(repo, scene.priya)
    resume = ResumeSkip(client_id=current.id, kind="pause", key=listed.key, version=current.version)
    resumed = clients.change_skips(deps_for(repo), scene.trainer, resume)
    assert not resumed.unchanged and not scene.client(repo, scene.priya).skips
    with unchanged(repo):  # a second click on Resume
        assert clients.change_skips(deps_for(repo), scene.trainer, resume).unchanged


# Apply template ---------------------------------------------------------------------------
def test_apply_template_adds_open_slots_for_a_skip_and_a_pause_and_says_why(
    repo: Repository, scene: Scene
) -> None:
    _skip(repo, scene, "2026-12-02")
    _pause(repo, scene, "2026-12-07", "2026-12-14")
    results, calls = counted(lambda: _apply(repo, scene, "2026-W49", 3))
    by_week = {r.plan.week: r for r in results}
    assert [s.reason for s in by_week["2026-W49"].left_open] == [
        "left open: Priya skipped this date"
    ]
    assert [s.reason for s in by_week["2026-W50"].left_open] == [
        "left open: Priya skipped (paused until 14 Dec)"
    ]
    assert by_week["2026-W51"].left_open == [] and len(by_week["2026-W51"].booked) == 1
    assert _slot_open_on(repo, scene, WED_2_DEC) and _slot_open_on(repo, scene, WED_9_DEC)
    assert not _slot_open_on(repo, scene, WED_16_DEC)
    # The skips came with the client item Apply template reads anyway: no extra read.
    assert calls == 1 + 1 + 3 * 2 + 1  # set-up, holders, per week read + write, applied mark


# The portal -------------------------------------------------------------------------------
def _home(scene: Scene, who: Client) -> str:
    return runtime.links().portal(scene.trainer.id, who)


def test_the_client_skips_their_next_recurring_session_before_the_deadline(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    home = portal.home_page(deps_for(repo), _home(scene, scene.priya))
    nxt = home.next_recurring
    assert nxt is not None and nxt.skippable and nxt.label.startswith("Wednesday 2 Dec")

    canceled = portal.skip_week(
        deps_for(repo),
        _home(scene, scene.priya),
        portal.SkipWeek(session_id=nxt.session_id, version=nxt.version),
    )

    assert canceled.status == "canceled" and canceled.day == WED_2_DEC
    assert _slot_open_on(repo, scene, WED_2_DEC)
    assert scene.client(repo, scene.priya).skips.dates[0].day == WED_2_DEC
    after = portal.home_page(deps_for(repo), _home(scene, scene.priya)).next_recurring
    assert after is not None and after.label.startswith("Wednesday 9 Dec")


def test_inside_the_deadline_the_skip_is_refused_and_nothing_is_written(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    late = NOW.replace(day=1, month=12, hour=12)  # Tue 1 Dec 12:00: 30 h before Wed 18:00
    home = portal.home_page(deps_for(repo, late), _home(scene, scene.priya))
    assert home.next_recurring is not None and not home.next_recurring.skippable
    assert "less than 36 hours before this session" in home.next_recurring.deadline_text
    command = portal.SkipWeek(
        session_id=home.next_recurring.session_id, version=home.next_recurring.version
    )
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        portal.skip_week(deps_for(repo, late), _home(scene, scene.priya), command)
    assert "deadline" in refused.value.errors


def test_a_skip_for_someone_elses_session_is_refused_and_nothing_is_written(
    repo: Repository, scene: Scene
) -> None:
    _apply(repo, scene)
    priyas = portal.home_page(deps_for(repo), _home(scene, scene.priya)).next_recurring
    assert priyas is not None
    command = portal.SkipWeek(session_id=priyas.session_id, version=priyas.version)
    with unchanged(repo), pytest.raises(InvalidInput) as refused:
        portal.skip_week(deps_for(repo), _home(scene, scene.omar), command)
    assert refused.value.errors == {"_form": portal.NOT_YOURS}
    with unchanged(repo), pytest.raises(InvalidInput):
        portal.skip_week(
            deps_for(repo),
            _home(scene, scene.priya),
            portal.SkipWeek(session_id="forged", version=1),
        )
