"""What the buttons on the trainer's session page do: payment, cancel (and tell the
client), void, invoice, confirmation, and Change on schedule (start, stop).

Its own module because it uses both `services.sessions` and `services.messages`, and
messages already imports sessions (the page cursors).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.models import Trainer
from chalicelib.domain.schedule import Session
from chalicelib.services import messages, sessions
from chalicelib.services.deps import Deps


class SessionAction(sessions.SetPayment):
    """One of the page's forms; `action` is the button pressed. Each form sends only its
    own fields: the others keep their defaults and the action ignores them."""

    action: str = ""  # an unknown one is refused by `act` in the page's words
    quiet: bool = False  # cancel: "Don't notify the client" (unticked: the client is told)
    note: str = ""  # cancel: the trainer's note to the client, free text
    send_id: str = ""  # invoice and confirmation: the id the page was drawn with
    late: bool = False  # cancel: "Late cancel" (inside the deadline, the policy's fee)

    @property
    def goes_to_schedule(self) -> bool:
        """Change on schedule continues on the schedule, where the trainer picks a slot."""
        return self.action == "change_start"


@dataclass(frozen=True)
class Done:
    saved: str  # which confirmation the page shows ("already": nothing was sent twice)
    session: Session  # as it was read for the action


def act(
    deps: Deps,
    trainer: Trainer,
    ref: str,
    command: SessionAction,
    base_url: Callable[[], str],
) -> Done:
    """Do what the button asks, in one write (two reads first at most: the session, and
    the client when a message is made). `base_url` is asked only when a message carries a
    link, so a stage with no trusted public URL can still record payments."""
    repo, tid, now = deps.repo, trainer.id, deps.now
    booking = sessions.find_session(repo, tid, ref)  # the log is read only to show errors
    version = sessions.submitted_version(command.version)
    saved = command.action
    if command.action == "payment":
        sessions.set_payment(repo, tid, booking, command, now)
    elif command.action == "cancel":
        # One read of the client serves the notice and the late-cancel deadline.
        client = None if command.quiet else repo.get_client(tid, booking.client_id)
        notice = (
            None
            if client is None
            else sessions.change_notice(
                sessions.ChangeNotice(trainer, command.note, base_url()),
                client,
                "cancel_notice",
                booking,
                now,
            )
        )
        late = trainer if command.late else None
        sessions.cancel(repo, tid, booking, version, now, notice=notice, late=late, client=client)
        if notice is not None:
            saved = "cancel_told"
    elif command.action == "no_show":
        sessions.mark_no_show(repo, trainer, booking, version, now)
    elif command.action == "void":
        sessions.void(repo, tid, booking, version, now)
    elif command.action == "invoice":
        queued = messages.send_invoice(repo, trainer, booking, command.send_id, now, base_url)
        saved = command.action if queued.new else "already"
    elif command.action == "confirm":
        queued = messages.send_confirmation(
            repo,
            trainer,
            booking,
            command.send_id,
            sessions.session_link_ref(base_url(), tid),
            now,
        )
        saved = command.action if queued.new else "already"
    elif command.action == "change_start":
        sessions.start_changing(repo, tid, booking, version, now)
    elif command.action == "change_stop":
        sessions.stop_changing(repo, tid, booking, version, now)
    else:
        raise InvalidInput({"_form": "Unknown action."})
    return Done(saved, booking)
