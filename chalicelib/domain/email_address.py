"""Email addresses: one syntax check and one normal form for trainers and clients alike.

The syntax is checked by `email-validator` (RFC 5321/5322 rules as mail servers apply them)
rather than by a home-made pattern, which let through "a@b.com,evil@c.com", control
characters and markup. Only the syntax is checked: deliverability would need DNS, and the
real proof for a trainer is that the sign-in link arrives.
"""

from __future__ import annotations

MAX_LENGTH = 254  # RFC 5321 path limit; the library enforces it too


class InvalidEmailAddress(ValueError):
    """Not one well-formed address; the message says what is wrong, in plain words."""


def normalise_email_address(raw: str, *, allow_reserved_domains: bool = False) -> str:
    """The address in the form stored and used as the EMAIL# key, or InvalidEmailAddress.

    The result is lower-cased whole (not only the domain, as the library does): accounts
    were always keyed by the lower-cased address, and an address typed with a capital must
    keep finding the same account. Non-ASCII local parts are refused (SES cannot send to
    them) and an internationalised domain is kept in its ASCII (punycode) form, the one SES
    accepts. `allow_reserved_domains` admits a reserved top-level name such as `.local`
    (the demo account of `make run`), never on a deployed stage.
    """
    # Deferred: importing email-validator compiles its Unicode patterns (~30 ms), and most
    # requests and runs never check an address (docs/cold-start.md).
    from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

    candidate = (raw or "").strip()
    if not candidate:
        raise InvalidEmailAddress("Enter an email address.")
    head, dot, tld = candidate.rpartition(".")
    reserved = allow_reserved_domains and dot and tld.lower() in SPECIAL_USE_DOMAIN_NAMES
    if reserved:
        # The library always refuses these; check everything else with a stand-in name.
        candidate = f"{head}.{_STAND_IN_TLD}"
    try:
        result = validate_email(candidate, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidEmailAddress(str(exc)) from exc
    address = str(result.ascii_email).lower()
    if reserved:
        address = f"{address.removesuffix('.' + _STAND_IN_TLD)}.{tld.lower()}"
    return address


_STAND_IN_TLD = "example"  # itself reserved for documentation, but accepted by the library
