"""Trainer settings with the spec's defaults, and the rules for editing them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from chalicelib.domain.bank import (
    MAX_NAME,
    PaymentDetails,
    PaymentInput,
    Scheme,
    parse_payment,
    scheme_for_country,
)
from chalicelib.domain.commands import Versioned
from chalicelib.domain.errors import InvalidInput
from chalicelib.domain.grid import format_clock, is_on_grid, parse_time_fields
from chalicelib.domain.invoices import parse_vat_number, parse_vat_rate, vat_rate_text
from chalicelib.domain.message_kinds import TEMPLATE_KINDS
from chalicelib.domain.money import OFFERED_CURRENCIES, locale_for_country
from chalicelib.domain.money import format_money as format_money  # re-exported: older callers
from chalicelib.domain.phone import parse_phone
from chalicelib.domain.reminders import ReminderChoice
from chalicelib.domain.reminders import parse_choice as parse_reminder_choice
from chalicelib.domain.timeutil import (
    NonexistentLocalTime,
    is_valid_time_zone,
    local_today,
    to_utc,
    week_key,
    week_monday,
)

# The currency codes offered in Settings; symbols and decimals come from Babel (money.py).
CURRENCIES: tuple[str, ...] = OFFERED_CURRENCIES

# Country codes offered for the default phone prefix of local numbers (Clients issue).
COUNTRIES: dict[str, str] = {
    "GB": "United Kingdom",
    "IE": "Ireland",
    "US": "United States",
    "CA": "Canada",
    "AU": "Australia",
    "NZ": "New Zealand",
    "FR": "France",
    "DE": "Germany",
    "ES": "Spain",
    "IT": "Italy",
    "NL": "Netherlands",
    "BE": "Belgium",
    "PT": "Portugal",
    "CH": "Switzerland",
    "SE": "Sweden",
    "NO": "Norway",
    "DK": "Denmark",
    "PL": "Poland",
    "ZA": "South Africa",
    "AE": "United Arab Emirates",
    "SG": "Singapore",
    "JP": "Japan",
}

BOOKING_WINDOW_PRESETS = (1, 2, 3)
NOTIFY_CHOICES: Final = ("whatsapp", "email", "none")
MAX_BOOKING_WINDOW_WEEKS = 12
MAX_DEADLINE_HOURS = 14 * 24
MIN_LOCK_MINUTES, MAX_LOCK_MINUTES = 5, 24 * 60


# WhatsApp sender ---------------------------------------------------------------------------
SENDER_CHOICES: Final = ("shared", "twilio", "meta")


class WhatsAppSender(BaseModel):
    """Where a trainer's WhatsApp messages go from. Secrets are never here: `token_ref` and
    `app_secret_ref` name the SSM SecureStrings holding them (a new name for each secret
    typed, so a saved name always means the same value and can be cached by it)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["shared", "twilio", "meta"] = "shared"
    number: str = ""  # Twilio: the WhatsApp-enabled sender, E.164
    account_sid: str = ""  # Twilio
    phone_number_id: str = ""  # Meta
    token_ref: str = ""  # Twilio auth token or Meta access token
    # Twilio: the trainer's own Content SIDs (kind -> HX…), approved on their account; a
    # stage's SIDs belong to the stage's account and cannot be used from another.
    content_sids: dict[str, str] = Field(default_factory=dict)
    app_secret_ref: str = ""  # Meta: signs the webhook posts of the trainer's own app
    # Typed into the trainer's Meta app with the webhook URL (derived, not a secret).
    verify_token: str = ""

    @property
    def is_own(self) -> bool:
        return self.kind != "shared"

    @property
    def address(self) -> tuple[str, str] | None:
        """(provider, the number or phone-number id): what one trainer alone may hold."""
        if self.kind == "twilio":
            return ("twilio", self.number)
        if self.kind == "meta":
            return ("meta", self.phone_number_id)
        return None


class TrainerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    business_name: str = ""
    whatsapp_number: str = ""  # E.164; clients get a click-to-chat link to it
    time_zone: str = "Europe/London"
    country: str = "GB"
    day_start: int = 7 * 60
    day_end: int = 21 * 60
    default_view: Literal["day", "week"] = "week"
    booking_window_weeks: int = 2
    cancel_deadline_hours: int = 36
    offer_lock_minutes: int = 60
    currency: str = "GBP"
    payment: PaymentDetails = PaymentDetails()
    # "Tell me when clients book, change or cancel": on WhatsApp to whatsapp_number, by
    # email to the sign-in address, or not at all.
    client_activity_notify: Literal["whatsapp", "email", "none"] = "email"
    # "Reminders before each session" (domain/reminders.py): off, 24h, 2h or both.
    reminders: ReminderChoice = "off"
    # Where the trainer's WhatsApp messages go from: the stage's shared number, or their own.
    whatsapp_sender: WhatsAppSender = Field(default_factory=lambda: WhatsAppSender())
    # "Apply my template automatically N weeks ahead" (issue 15 item 3): None is off.
    auto_apply_weeks: int | None = None
    # "Travel time between locations" (domain/travel.py): 0, 30 or 60 minutes.
    travel_minutes: int = 0
    # No-show and late-cancel fees (domain/policy.py): 0, 50 or 100 % of the price.
    no_show_percent: int = 0
    late_cancel_percent: int = 0
    # VAT on invoices (domain/invoices.py): the number printed on them, and the rate in
    # hundredths of a percent (2000 = 20 %); None: invoices show no VAT.
    vat_number: str = ""
    vat_rate_bp: int | None = None

    @property
    def vat_rate_input(self) -> str:
        """The rate as the Settings field shows it ("20", "5.5"; "" for no VAT)."""
        return "" if self.vat_rate_bp is None else vat_rate_text(self.vat_rate_bp)[:-2]

    @property
    def schedule_hours(self) -> str:
        return f"{format_clock(self.day_start)}–{format_clock(self.day_end)}"

    @property
    def locale(self) -> str:
        """How this trainer writes numbers and money (en_GB, de_DE...): from the country."""
        return locale_for_country(self.country)

    @property
    def bank_scheme(self) -> Scheme:
        """The bank details format to show: the saved one, or the country's until some
        details have been entered."""
        if self.payment.has_account_details:
            return self.payment.scheme
        return scheme_for_country(self.country)


class SaveSettings(PaymentInput, Versioned):
    """The Settings form as typed. Every field stays text: the rules below check them all
    at once, so the page can show every problem together, each in its own words."""

    business_name: str = ""
    whatsapp_number: str = ""
    time_zone: str = ""
    country: str = ""
    day_start: str = ""
    day_end: str = ""
    default_view: str = ""
    booking_window: str = ""
    booking_window_custom: str = ""
    cancel_deadline_hours: str = ""
    offer_lock_minutes: str = ""
    currency: str = ""
    client_activity_notify: str = ""  # empty (a form from before the setting): email
    reminders: str = ""  # empty (a form from before the setting): the current choice kept
    # "WhatsApp sender" (parse_sender): empty (a form from before it) keeps the current one.
    whatsapp_sender: str = ""
    twilio_number: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")  # write-only: never shown back or logged
    # One line per message kind: "confirmation HX…" (docs/whatsapp-senders.md).
    twilio_content_sids: str = ""
    meta_phone_number_id: str = ""
    meta_access_token: SecretStr = SecretStr("")
    meta_app_secret: SecretStr = SecretStr("")
    # "Apply my template automatically": "on" or "off"; empty (a form from before the
    # setting) keeps the current choice (save_settings).
    auto_apply: str = ""
    auto_apply_weeks: str = ""
    travel_minutes: str = ""  # empty (a form from before the setting): the current one kept
    no_show_percent: str = ""  # as travel_minutes
    late_cancel_percent: str = ""
    # VAT on invoices: None (a form from before the fields) keeps the current ones; ""
    # clears them.
    vat_number: str | None = None
    vat_rate: str | None = None


TRAVEL_CHOICES: Final = (0, 30, 60)  # "Travel time between locations" (domain/travel.py)


CHARGE_CHOICES: Final = (0, 50, 100)  # no-show and late-cancel fees (domain/policy.py)


def _choice(
    raw: str, choices: tuple[int, ...], field: str, message: str, errors: dict[str, str]
) -> int:
    """One of a select's numbers ("" reads as 0); anything else is named, 0 returned."""
    text = (raw or "0").strip()
    if text in {str(choice) for choice in choices}:
        return int(text)
    errors[field] = message
    return 0


def _int_field(
    raw: str, field: str, label: str, low: int, high: int, errors: dict[str, str]
) -> int | None:
    if re.fullmatch(r"[-−]\s*[0-9]+", raw):
        # "-5" is a whole number: saying it is not would send people looking for a typo.
        errors[field] = f"{label} cannot be negative: use a whole number between {low} and {high}."
        return None
    if not re.fullmatch(r"[0-9]{1,6}", raw):
        errors[field] = f"{label} must be a whole number."
        return None
    value = int(raw)
    if not low <= value <= high:
        errors[field] = f"{label} must be between {low} and {high}."
        return None
    return value


def parse_settings(typed: SaveSettings) -> TrainerSettings:
    """Validate every field at once so the page can show all the problems together."""
    errors: dict[str, str] = {}

    business_name = typed.business_name
    if len(business_name) > MAX_NAME:
        errors["business_name"] = f"Keep the name to {MAX_NAME} characters or fewer."

    time_zone = typed.time_zone
    if not is_valid_time_zone(time_zone):
        errors["time_zone"] = f"“{time_zone}” is not a time zone we know. Pick one from the list."

    country = typed.country.upper()
    if country not in COUNTRIES:
        errors["country"] = "Pick a country from the list."

    day_start, day_end = parse_time_fields(
        {"day_start": typed.day_start, "day_end": typed.day_end}, errors, "day_start", "day_end"
    )
    for field, value in (("day_start", day_start), ("day_end", day_end)):
        if value is not None and not is_on_grid(value):
            errors.setdefault(
                field, f"{format_clock(value)} is not on the 30-minute grid: use :00 or :30."
            )
    if (
        day_start is not None
        and day_end is not None
        and not {"day_start", "day_end"} & errors.keys()
        and day_end <= day_start
    ):
        errors["day_end"] = "The day must end after it starts."

    default_view = typed.default_view
    if default_view not in ("day", "week"):
        errors["default_view"] = "Choose day or week."

    window_choice = typed.booking_window
    booking_window_weeks: int | None = None
    if window_choice == "custom":
        booking_window_weeks = _int_field(
            typed.booking_window_custom,
            "booking_window_custom",
            "The custom booking window",
            1,
            MAX_BOOKING_WINDOW_WEEKS,
            errors,
        )
    elif window_choice in {str(weeks) for weeks in BOOKING_WINDOW_PRESETS}:
        booking_window_weeks = int(window_choice)
    else:
        errors["booking_window"] = "Choose 1, 2, 3 weeks or a custom number."

    deadline = _int_field(
        typed.cancel_deadline_hours,
        "cancel_deadline_hours",
        "The cancel/change deadline",
        0,
        MAX_DEADLINE_HOURS,
        errors,
    )
    lock = _int_field(
        typed.offer_lock_minutes,
        "offer_lock_minutes",
        "The last-minute lock",
        MIN_LOCK_MINUTES,
        MAX_LOCK_MINUTES,
        errors,
    )

    currency = typed.currency.upper()
    if currency not in CURRENCIES:
        errors["currency"] = "Pick a currency from the list."

    payment = parse_payment(typed, errors)

    whatsapp_number = ""
    if typed.whatsapp_number:
        try:
            whatsapp_number = parse_phone(
                typed.whatsapp_number, country if country in COUNTRIES else "GB"
            )
        except ValueError as exc:
            errors["whatsapp_number"] = str(exc)

    notify = typed.client_activity_notify or "email"
    if notify not in NOTIFY_CHOICES:
        errors["client_activity_notify"] = "Choose WhatsApp, email or no message."
    elif notify == "whatsapp" and not typed.whatsapp_number and "whatsapp_number" not in errors:
        errors["client_activity_notify"] = (
            "Add your WhatsApp number above to be told on WhatsApp, or choose email."
        )

    reminders = typed.reminders or "off"  # save_settings keeps the current one for ""
    if parse_reminder_choice(reminders) is None:
        errors["reminders"] = "Choose off, 24 hours, 2 hours or both."

    auto_apply_weeks = parse_auto_apply(typed, errors)
    travel_minutes = _choice(
        typed.travel_minutes,
        TRAVEL_CHOICES,
        "travel_minutes",
        "Choose no travel time, 30 minutes or 60 minutes.",
        errors,
    )
    no_show, late = (
        _choice(
            getattr(typed, field),
            CHARGE_CHOICES,
            field,
            f"Choose what a {label} costs: nothing, half or the full price.",
            errors,
        )
        for field, label in (("no_show_percent", "no-show"), ("late_cancel_percent", "late cancel"))
    )

    vat_number, vat_rate_bp = parse_vat(typed, errors)

    if errors:
        raise InvalidInput(errors)
    assert day_start is not None and day_end is not None
    assert booking_window_weeks is not None and deadline is not None and lock is not None
    return TrainerSettings(
        business_name=business_name,
        whatsapp_number=whatsapp_number,
        time_zone=time_zone,
        country=country,
        day_start=day_start,
        day_end=day_end,
        default_view=default_view,  # type: ignore[arg-type]
        booking_window_weeks=booking_window_weeks,
        cancel_deadline_hours=deadline,
        offer_lock_minutes=lock,
        currency=currency,
        payment=payment,
        client_activity_notify=notify,  # type: ignore[arg-type]
        reminders=reminders,  # type: ignore[arg-type]
        auto_apply_weeks=auto_apply_weeks,
        travel_minutes=travel_minutes,
        no_show_percent=no_show,
        late_cancel_percent=late,
        vat_number=vat_number,
        vat_rate_bp=vat_rate_bp,
    )


def parse_vat(typed: SaveSettings, errors: dict[str, str]) -> tuple[str, int | None]:
    """The VAT number and rate (basis points) as typed; each problem named in `errors`."""
    vat_number, vat_rate_bp = "", None
    try:
        vat_number = parse_vat_number(typed.vat_number or "")
    except ValueError as exc:
        errors["vat_number"] = str(exc)
    try:
        vat_rate_bp = parse_vat_rate(typed.vat_rate or "")
    except ValueError as exc:
        errors["vat_rate"] = str(exc)
    return vat_number, vat_rate_bp


# WhatsApp sender: the rules for the Settings section --------------------------------------
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_TWILIO_AUTH_TOKEN = re.compile(r"[0-9A-Za-z]{32}")
_PHONE_NUMBER_ID = re.compile(r"[0-9]{6,32}")
_META_ACCESS_TOKEN = re.compile(r"[0-9A-Za-z_.|-]{20,2048}")
_META_APP_SECRET = re.compile(r"[0-9a-fA-F]{32}")


class SenderSecrets(BaseModel):
    """The secrets typed on this save ("" keeps the saved one): stored in SSM, never in
    the table, and never shown back. SecretStr keeps them out of reprs and logs."""

    model_config = ConfigDict(frozen=True)

    token: SecretStr = SecretStr("")
    app_secret: SecretStr = SecretStr("")


def parse_sender(
    typed: SaveSettings, previous: WhatsAppSender, errors: dict[str, str]
) -> tuple[WhatsAppSender, SenderSecrets]:
    """The sender chosen, with the saved secrets' names kept where nothing new was typed
    (a new secret's name is left blank: the use case names it when it stores it)."""
    choice = typed.whatsapp_sender
    if not choice:
        return previous, SenderSecrets()  # a form from before the section: nothing changes
    if choice == "shared":
        return WhatsAppSender(), SenderSecrets()
    if choice == "twilio":
        return _parse_twilio(typed, previous, errors)
    if choice == "meta":
        return _parse_meta(typed, previous, errors)
    errors["whatsapp_sender"] = (
        "Choose the PT Bookings number, your own Twilio number or your own WhatsApp "
        "Business number."
    )
    return previous, SenderSecrets()


def _typed_secret(value: SecretStr) -> str:
    return value.get_secret_value().strip()


def _parse_twilio(
    typed: SaveSettings, previous: WhatsAppSender, errors: dict[str, str]
) -> tuple[WhatsAppSender, SenderSecrets]:
    number = ""
    raw_number = typed.twilio_number.removeprefix("whatsapp:").strip()
    if not raw_number:
        errors["twilio_number"] = (
            "Enter your Twilio WhatsApp sender number, starting with + (e.g. +14155238886)."
        )
    else:
        try:
            number = parse_phone(raw_number, typed.country.upper() or "GB")
        except ValueError:
            errors["twilio_number"] = (
                "That is not a valid phone number: enter the sender number as Twilio shows "
                "it, starting with + (e.g. +14155238886)."
            )
    sid = typed.twilio_account_sid
    if not sid:
        errors["twilio_account_sid"] = "Enter your Account SID (Twilio Console, Account info)."
    elif not _ACCOUNT_SID.fullmatch(sid):
        errors["twilio_account_sid"] = (
            "An Account SID is AC followed by 32 characters, 0–9 and a–f: copy it from "
            "Twilio Console, Account info."
        )
    else:
        sid = "AC" + sid[2:].lower()
    token = _typed_secret(typed.twilio_auth_token)
    same_account = previous.kind == "twilio" and previous.account_sid == sid
    kept_ref = previous.token_ref if same_account and not token else ""
    if token and not _TWILIO_AUTH_TOKEN.fullmatch(token):
        errors["twilio_auth_token"] = (
            "A Twilio auth token is 32 letters and digits: copy it from Twilio Console, "
            "Account info."
        )
    elif not token and not kept_ref:
        errors["twilio_auth_token"] = (
            "Enter the auth token again: it belongs to the Account SID, which changed."
            if previous.kind == "twilio" and previous.token_ref
            else "Enter the account's auth token (Twilio Console, Account info)."
        )
    sender = WhatsAppSender(
        kind="twilio",
        number=number,
        account_sid=sid,
        token_ref=kept_ref,
        content_sids=parse_content_sids(typed.twilio_content_sids, errors),
    )
    return sender, SenderSecrets(token=SecretStr(token))


_CONTENT_SID_LINE = re.compile(r"^\s*([a-z_]+)\s*[:=]?\s*(HX[0-9a-fA-F]{32})\s*$")


def parse_content_sids(raw: str, errors: dict[str, str]) -> dict[str, str]:
    """ "confirmation HX…" per line (":" or "=" between also read), blank lines skipped;
    every problem named with its line, so a long paste can be fixed in one go."""
    found: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        matched = _CONTENT_SID_LINE.match(line)
        if matched is None:
            problems.append(
                f"line {number} is not a kind and a Content SID (HX and 32 characters 0–9, a–f)"
            )
            continue
        kind, sid = matched.group(1), "HX" + matched.group(2)[2:].lower()
        if kind not in TEMPLATE_KINDS:
            problems.append(f"line {number}: “{kind}” is not a message kind")
        elif kind in found:
            problems.append(f"line {number}: {kind} is there twice")
        else:
            found[kind] = sid
    if problems:
        errors["twilio_content_sids"] = (
            "Check your Content SIDs: "
            + "; ".join(problems[:3])
            + ". Kinds: "
            + ", ".join(TEMPLATE_KINDS)
            + "."
        )
    return found


def _parse_meta(
    typed: SaveSettings, previous: WhatsAppSender, errors: dict[str, str]
) -> tuple[WhatsAppSender, SenderSecrets]:
    phone_number_id = typed.meta_phone_number_id
    if not phone_number_id:
        errors["meta_phone_number_id"] = (
            "Enter the phone-number id (WhatsApp Manager, API Setup: Phone number ID)."
        )
    elif not _PHONE_NUMBER_ID.fullmatch(phone_number_id):
        errors["meta_phone_number_id"] = (
            "A phone-number id is 6 to 32 digits, not the phone number itself: copy it "
            "from WhatsApp Manager, API Setup."
        )
    was_meta = previous.kind == "meta"
    token = _typed_secret(typed.meta_access_token)
    kept_token = previous.token_ref if was_meta and not token else ""
    if token and not _META_ACCESS_TOKEN.fullmatch(token):
        errors["meta_access_token"] = (
            "That does not look like a Meta access token: copy the whole token, letters and "
            "digits with no spaces."
        )
    elif not token and not kept_token:
        errors["meta_access_token"] = (
            "Enter an access token for this number (a system user's permanent token)."
        )
    app_secret = _typed_secret(typed.meta_app_secret)
    kept_secret = previous.app_secret_ref if was_meta and not app_secret else ""
    if app_secret and not _META_APP_SECRET.fullmatch(app_secret):
        errors["meta_app_secret"] = (
            "An app secret is 32 characters, 0–9 and a–f (your app's Settings, Basic, App secret)."
        )
    elif not app_secret and not kept_secret:
        errors["meta_app_secret"] = (
            "Enter your Meta app's secret: it proves the webhook posts come from your app."
        )
    sender = WhatsAppSender(
        kind="meta",
        phone_number_id=phone_number_id,
        token_ref=kept_token,
        app_secret_ref=kept_secret,
        verify_token=previous.verify_token if was_meta else "",
    )
    return sender, SenderSecrets(token=SecretStr(token), app_secret=SecretStr(app_secret))


# Keep the template applied (issue 15 item 3) -------------------------------------------------
MAX_AUTO_APPLY_WEEKS: Final = 12
# The weekly run: Monday 02:00 in the trainer's zone. Every DST change we know of happens
# on a weekend, so this wall time exists, and the week it fills has not started for anyone.
AUTO_APPLY_WEEKDAY: Final = 0
AUTO_APPLY_MINUTES: Final = 2 * 60


def parse_auto_apply(typed: SaveSettings, errors: dict[str, str]) -> int | None:
    """The weeks ahead to keep applied, or None (off). The number is checked only when the
    setting is on: a number left in the box while off is not a mistake."""
    if typed.auto_apply in ("", "off"):
        return None
    if typed.auto_apply != "on":
        errors["auto_apply"] = "Choose on or off."
        return None
    return _int_field(
        typed.auto_apply_weeks.strip(),
        "auto_apply_weeks",
        "The weeks ahead to apply",
        1,
        MAX_AUTO_APPLY_WEEKS,
        errors,
    )


def next_auto_apply_run(after: datetime, zone_name: str) -> datetime:
    """The first weekly run strictly after `after` (UTC), at Monday 02:00 local time: the
    same wall time all year, whichever side of a DST change the week falls."""
    monday = week_monday(week_key(local_today(after, zone_name)))
    while True:
        day = monday + timedelta(days=AUTO_APPLY_WEEKDAY)
        try:
            run = to_utc(day, AUTO_APPLY_MINUTES, zone_name)
        except NonexistentLocalTime:  # a zone that changes its clocks on a Monday night
            run = to_utc(day, AUTO_APPLY_MINUTES + 60, zone_name)
        if run > after:
            return run
        monday += timedelta(weeks=1)


def auto_apply_weeks(current_week: str, applied_through: str | None, weeks_ahead: int) -> list[str]:
    """The weeks one run applies: from the current week (or the week after the last one a
    run applied, so a slot the trainer removed by hand is not put back every Monday)
    through `weeks_ahead` weeks after the current one. Empty when nothing is new."""
    first = week_monday(current_week)
    if applied_through is not None:
        first = max(first, week_monday(applied_through) + timedelta(weeks=1))
    last = week_monday(current_week) + timedelta(weeks=weeks_ahead)
    out = []
    while first <= last:
        out.append(week_key(first))
        first += timedelta(weeks=1)
    return out


def _week_label(week: str, other: str) -> str:
    year, number = week.split("-")
    return number if year == other.split("-")[0] else week


def auto_apply_summary(
    weeks: list[str], added: int, booked: int, time_off: int, other_skips: int, left_open: int = 0
) -> str:
    """The Activity feed's line for one run: "Template applied automatically to W49–W52:
    12 slots added, 3 recurring clients booked, 2 skipped (time off)"."""
    first, last = weeks[0], weeks[-1]
    span = _week_label(first, last)
    if last != first:
        span += "–" + (_week_label(last, first) if first[:4] == last[:4] else last)
    parts = [
        f"{added} slot{'s' if added != 1 else ''} added",
        f"{booked} recurring client{'s' if booked != 1 else ''} booked",
        f"{time_off} skipped (time off)",
    ]
    if other_skips:
        parts.append(f"{other_skips} skipped (something else is there)")
    if left_open:
        # Added, but its recurring client not booked: away (a skip or a pause), not at
        # that location, or already holding that week's session.
        parts.append(f"{left_open} recurring slot{'s' if left_open != 1 else ''} left open")
    return f"Template applied automatically to {span}: " + ", ".join(parts)
