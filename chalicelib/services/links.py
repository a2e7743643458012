"""Capability links handed to clients: derived from the stage's secret, stored hashed.

`Links` is handed the secret's reader by the composition root (runtime), so a use case
that makes a link says so in its signature and a test can give it any secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from chalicelib.domain.card_payments import PayToken, pay_target
from chalicelib.domain.clients import Client
from chalicelib.domain.invoices import PDF_PLACEHOLDER, PDF_SUFFIX, parse_link_target
from chalicelib.domain.messages import LINK_PLACEHOLDER, LinkRef, Message
from chalicelib.domain.portal import PortalClient
from chalicelib.domain.tokens import (
    derive_token,
    offer_link_token,
    portal_token,
    session_link_token,
    token_hash,
)

PAY_PATH = "/pay/"  # card payments' pay page (services/card_payments.py)
INVOICE_PATH = "/i/"  # an invoice's PDF for the client (web/invoice_views.py)
INVOICE_LINK_KIND = "invoice"


class Links:
    """Makes a client's links again from the stage secret (the table holds only hashes)."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        # A reader, not the bytes: deployed, the secret is an SSM read that a request
        # making no link never pays for.
        self._secret = secret

    @property
    def secret(self) -> bytes:
        return self._secret()

    def portal(self, trainer_id: str, client: Client | PortalClient) -> str:
        return portal_token(self.secret, trainer_id, client.id, client.portal_generation)

    def portal_hash(self, trainer_id: str, client: Client | PortalClient) -> str:
        return token_hash(self.portal(trainer_id, client))

    def session(self, trainer_id: str, client_id: str, generation: int, session_id: str) -> str:
        return session_link_token(self.secret, trainer_id, client_id, generation, session_id)

    def session_hash(
        self, trainer_id: str, client_id: str, generation: int, session_id: str
    ) -> str:
        return token_hash(self.session(trainer_id, client_id, generation, session_id))

    def offer(self, trainer_id: str, offer_id: str) -> str:
        return offer_link_token(self.secret, trainer_id, offer_id)

    # Calendar feeds: `<ids>.<generation>.<HMAC>`. The ids say whose feed it is, the HMAC
    # proves the stage made it, so a forged or altered link is refused before any read;
    # the generation retires it (the trainer's feed generation, the client's portal one).
    def trainer_feed(self, trainer_id: str, generation: int) -> str:
        mac = derive_token(self.secret, "calendar-trainer", trainer_id, str(generation))
        return f"{trainer_id}.{generation}.{mac}"

    def client_feed(self, trainer_id: str, client: Client | PortalClient) -> str:
        generation = client.portal_generation
        mac = self._client_feed_mac(trainer_id, client.id, generation)
        return f"{trainer_id}.{client.id}.{generation}.{mac}"

    def is_trainer_feed(self, trainer_id: str, generation: int, mac: str) -> bool:
        expected = derive_token(self.secret, "calendar-trainer", trainer_id, str(generation))
        return hmac.compare_digest(expected, mac)

    def is_client_feed(self, trainer_id: str, client_id: str, generation: int, mac: str) -> bool:
        return hmac.compare_digest(self._client_feed_mac(trainer_id, client_id, generation), mac)

    def _client_feed_mac(self, trainer_id: str, client_id: str, generation: int) -> str:
        return derive_token(self.secret, "calendar-client", trainer_id, client_id, str(generation))

    # Pay links (card payments, issue 16 item 3): `<trainer>.<client>.<generation>.<target>.
    # <HMAC>`, target `all` (the balance) or a session ref with `~` for its dots. Derived,
    # never stored, like the feeds: the portal generation retires it with the portal link.
    def pay(self, trainer_id: str, client_id: str, generation: int, session_ref: str | None) -> str:
        target = pay_target(session_ref)
        mac = self._pay_mac(trainer_id, client_id, generation, target)
        return f"{trainer_id}.{client_id}.{generation}.{target}.{mac}"

    def is_pay(self, token: PayToken) -> bool:
        target = pay_target(None if token.is_balance else token.target)
        expected = self._pay_mac(token.trainer_id, token.client_id, token.generation, target)
        return hmac.compare_digest(expected, token.mac)

    def _pay_mac(self, trainer_id: str, client_id: str, generation: int, target: str) -> str:
        return derive_token(self.secret, "pay", trainer_id, client_id, str(generation), target)

    def message_text(self, message: Message) -> str:
        """The message's text with its client link made again (the table holds the
        placeholder, never the link)."""
        ref = message.link
        if ref is None:
            return message.text
        if ref.kind == INVOICE_LINK_KIND:
            return self._invoice_text(message.text, ref)
        if ref.kind == "session":
            path = "/s/" + self.session(
                ref.trainer_id, ref.client_id, ref.generation, ref.target_id
            )
        elif ref.kind == "portal":
            path = "/c/" + portal_token(self.secret, ref.trainer_id, ref.client_id, ref.generation)
        elif ref.kind == "pay":  # target: the session's ref, or "" for the balance
            path = PAY_PATH + self.pay(
                ref.trainer_id, ref.client_id, ref.generation, ref.target_id or None
            )
        else:
            path = "/o/" + self.offer(ref.trainer_id, ref.target_id)
        return message.text.replace(LINK_PLACEHOLDER, ref.base + path)

    # Invoice PDFs (issue 17 item 4): `<trainer>.<client>.<generation>.<number>.<HMAC>`,
    # derived and never stored like pay links; the portal generation retires it with the
    # portal link, and an archived client's is refused on open (services/invoices.py).
    def invoice(self, trainer_id: str, client_id: str, generation: int, number: int) -> str:
        mac = self._invoice_mac(trainer_id, client_id, generation, number)
        return f"{trainer_id}.{client_id}.{generation}.{number}.{mac}"

    def is_invoice(
        self, trainer_id: str, client_id: str, generation: int, number: int, mac: str
    ) -> bool:
        expected = self._invoice_mac(trainer_id, client_id, generation, number)
        return hmac.compare_digest(expected, mac)

    def _invoice_mac(self, trainer_id: str, client_id: str, generation: int, number: int) -> str:
        return derive_token(
            self.secret, "invoice", trainer_id, client_id, str(generation), str(number)
        )

    def _invoice_text(self, text: str, ref: LinkRef) -> str:
        """An invoice message: its PDF link where PDF_PLACEHOLDER is, and its card pay
        link (if any) where LINK_PLACEHOLDER is. Without a pay link LINK_PLACEHOLDER
        becomes "", so the dispatcher's `link_url` finds no link for the card template
        and the invoice goes on its bank-details one, as before."""
        number, pay_ref = parse_link_target(ref.target_id)
        token = self.invoice(ref.trainer_id, ref.client_id, ref.generation, number)
        text = text.replace(PDF_PLACEHOLDER, ref.base + INVOICE_PATH + token + PDF_SUFFIX)
        pay = (
            ref.base + PAY_PATH + self.pay(ref.trainer_id, ref.client_id, ref.generation, pay_ref)
            if pay_ref
            else ""
        )
        return text.replace(LINK_PLACEHOLDER, pay)


def fixed(secret: bytes) -> Links:
    """Links from a known secret (tests, scripts)."""
    return Links(lambda: secret)
