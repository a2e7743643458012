"""Programs in the table: templates, drafts and bundle reads here; the items in
`program_items`, the wizard's date checks in `program_dates`, a bundle's writes in `bundles`.

Templates, bundles and drafts live in the trainer's programs partition `T#<tid>#PROG`
(`MODEL#`, `BUNDLE#`, `DRAFT#`); a bundle is also in ClientTimeline
`T#<tid>#C#<cid>#BUNDLES` for the client's profile and portal. A bundle's sessions are
ordinary session items in their trainer-week partitions.

Creating a bundle writes the bundle and every session (with its slot, guards, log line
and client link) in one transaction when it fits in 100 items. A bigger bundle is
written in several: the bundle first as `creating` (shown nowhere as active), then the
sessions, then the bundle switched to `active` in the last one. If any part fails, what
was written is removed again before the error is shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from chalicelib.domain.clients import Client
from chalicelib.domain.errors import NotFound, VersionConflict
from chalicelib.domain.programs import Bundle, Draft, ProgramTemplate
from chalicelib.domain.schedule import Session, parse_session_ref
from chalicelib.domain.timeutil import utc_iso
from chalicelib.repo import keys

# The names services and tests use, kept importable from here (one module per part).
from chalicelib.repo.bundles import (  # noqa: F401
    AlreadyCreated,
    BundleWrites,
    PlannedSession,
    SlotTaken,
    TemplateGone,
)
from chalicelib.repo.dynamo import (
    Condition,
    ConditionFailed,
    Db,
    Item,
    at_version,
)
from chalicelib.repo.mapping import client_from_item, session_from_item
from chalicelib.repo.program_dates import ProgramDates, ScheduleAround  # noqa: F401
from chalicelib.repo.program_items import (
    HUB_PAGE,
    HUB_RANGE,
    bundle_from_item,
    bundle_to_item,  # noqa: F401
    draft_from_item,
    draft_to_item,
    hub_sk,
    is_hub_cursor,
    template_from_item,
    template_to_item,
)


class ProgramRepository(BundleWrites, ProgramDates):
    def __init__(self, db: Db) -> None:
        self.db = db

    # Templates -------------------------------------------------------------------------
    def list_templates(self, trainer_id: str) -> list[ProgramTemplate]:
        items = self.db.query(keys.programs_pk(trainer_id), sk_prefix=keys.PROGRAM_PREFIX)
        return sorted((template_from_item(i) for i in items), key=lambda t: t.title.casefold())

    def get_template(self, trainer_id: str, template_id: str) -> ProgramTemplate:
        item = self.db.get(keys.program(trainer_id, template_id))
        if item is None:
            raise NotFound(template_id)
        return template_from_item(item)

    def save_template(
        self, trainer_id: str, template: ProgramTemplate, seen_version: int
    ) -> ProgramTemplate:
        """Create (seen_version 0) or replace a template if unchanged since the form."""
        saved = template.model_copy(update={"version": seen_version + 1})
        try:
            self.db.put(template_to_item(trainer_id, saved), at_version(seen_version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

    def delete_template(self, trainer_id: str, template: ProgramTemplate) -> None:
        try:
            self.db.delete(keys.program(trainer_id, template.id), at_version(template.version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc

    # Drafts ------------------------------------------------------------------------------
    def get_draft(self, trainer_id: str, draft_id: str) -> Draft:
        item = self.db.get(keys.draft(trainer_id, draft_id))
        if item is None:
            raise NotFound(draft_id)
        return draft_from_item(item)

    def save_draft(self, trainer_id: str, draft: Draft, seen_version: int) -> Draft:
        saved = draft.model_copy(update={"version": seen_version + 1})
        try:
            self.db.put(draft_to_item(trainer_id, saved), at_version(seen_version))
        except ConditionFailed as exc:
            raise VersionConflict() from exc
        return saved

    # Bundles -----------------------------------------------------------------------------
    def list_bundles(self, trainer_id: str) -> list[Bundle]:
        """Every bundle, newest first: the whole programs partition's bundles. Grows with
        the account, so no page uses it (the hub reads `hub_page`)."""
        items = self.db.query(keys.programs_pk(trainer_id), sk_prefix=keys.BUNDLE_PREFIX)
        return sorted(
            (bundle_from_item(i) for i in items), key=lambda b: b.created_at, reverse=True
        )

    def hub_page(
        self, trainer_id: str, after: dict[str, str] | None, limit: int = HUB_PAGE
    ) -> tuple[list[Bundle], dict[str, str] | None]:
        """One page of the hub's bundles (TrainerTimeline `T#<tid>#BUNDLES`, one Query):
        those not over yet first, then the others, most recently over first; and the
        key to continue from (None on the last page). A cursor that this Query could not
        have returned (tampered, another trainer's) starts from the top."""
        if after is not None and not is_hub_cursor(after, trainer_id):
            after = None
        items, last = self.db.query_page(
            keys.trainer_bundles(trainer_id),
            index=keys.TRAINER_INDEX,
            sk_range=HUB_RANGE,
            forward=False,
            limit=limit,
            start_key=after,
        )
        return [bundle_from_item(i) for i in items], last

    def index_bundles(self, trainer_id: str, now: datetime) -> int:
        """One-off backfill: the hub's keys on bundles written before they existed. Each
        bundle only if it still has none (one written meanwhile keeps its own); one
        completed by hand sorts by its last session's end. Returns how many were keyed."""
        keyed = 0
        for item in self.db.iter_query(keys.programs_pk(trainer_id), sk_prefix=keys.BUNDLE_PREFIX):
            if keys.TRAINER_PK in item:
                continue
            bundle = bundle_from_item(item)
            ended = max((e.end_utc for e in bundle.entries), default=bundle.created_at)
            try:
                self.db.update(
                    keys.bundle(trainer_id, bundle.id),
                    Condition(
                        "SET #tpk = :tpk, #tsk = :tsk",
                        {"#tpk": keys.TRAINER_PK, "#tsk": keys.TRAINER_SK},
                        {
                            ":tpk": keys.trainer_bundles(trainer_id),
                            ":tsk": hub_sk(bundle, min(ended, now)),
                        },
                    ),
                    Condition(
                        "attribute_exists(#pk) AND attribute_not_exists(#tpk)", {"#pk": keys.PK}
                    ),
                )
            except ConditionFailed:
                continue
            keyed += 1
        return keyed

    def client_bundles(self, trainer_id: str, client_id: str) -> list[Bundle]:
        """A client's bundles, newest first: one Query of ClientTimeline."""
        items = self.db.query(
            keys.client_bundles(trainer_id, client_id), index=keys.CLIENT_INDEX, forward=False
        )
        return [bundle_from_item(i) for i in items]

    def get_bundle(self, trainer_id: str, bundle_id: str) -> Bundle:
        item = self.db.get(keys.bundle(trainer_id, bundle_id))
        if item is None:
            raise NotFound(bundle_id)
        return bundle_from_item(item)

    def get_bundles(self, trainer_id: str, bundle_ids: Iterable[str]) -> list[Bundle]:
        """These bundles (those that exist), one BatchGetItem per 100: the packs tied to
        the recurring slots Apply template books."""
        wanted = [keys.bundle(trainer_id, b) for b in dict.fromkeys(bundle_ids)]
        found: list[Item] = []
        for start in range(0, len(wanted), 100):
            found.extend(self.db.batch_get(wanted[start : start + 100]))
        return [bundle_from_item(i) for i in found]

    def bundle_sessions(self, trainer_id: str, bundle: Bundle) -> list[Session]:
        """The bundle's sessions in its order: BatchGetItem, one call up to 100."""
        return self.bundle_sessions_and_client(trainer_id, bundle, with_client=False)[0]

    def bundle_sessions_and_client(
        self, trainer_id: str, bundle: Bundle, *, with_client: bool = True
    ) -> tuple[list[Session], Client | None]:
        """The bundle's sessions in its order, and its client, in one BatchGetItem (one
        more per 100 sessions)."""
        wanted = [keys.client(trainer_id, bundle.client_id)] if with_client else []
        for entry in bundle.entries:
            ref = parse_session_ref(entry.ref)
            if ref is not None:
                wanted.append(keys.session(trainer_id, ref.week, utc_iso(ref.start_utc), ref.id))
        found: list[Item] = []
        for start in range(0, len(wanted), 100):
            found.extend(self.db.batch_get(wanted[start : start + 100]))
        client = next(
            (client_from_item(i) for i in found if i[keys.SK].startswith(keys.CLIENT_PREFIX)),
            None,
        )
        sessions = [
            session_from_item(i) for i in found if i[keys.SK].startswith(keys.SESSION_PREFIX)
        ]
        sessions.sort(key=lambda s: s.bundle_index if s.bundle_index is not None else 0)
        return sessions, client

    # The wizard's dates against the schedule --------------------------------------------
