"""Time zones, ISO week keys and local-to-UTC conversion with explicit DST rules.

Rules (DESIGN.md §4):
- a local time that does not exist (spring forward) is rejected, never shifted;
- an ambiguous local time (fall back) resolves to its first occurrence (fold=0), which
  is the earlier instant and the one a person reading a wall clock meets first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from chalicelib.domain.grid import MINUTES_PER_DAY, format_clock


class NonexistentLocalTime(ValueError):
    def __init__(self, day: date, minutes: int, zone_name: str) -> None:
        super().__init__(
            f"{format_clock(minutes)} does not exist on {day.isoformat()} in {zone_name} "
            "(the clocks go forward then)."
        )
        self.day = day
        self.minutes = minutes


@lru_cache(maxsize=1)
def all_time_zones() -> tuple[str, ...]:
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")))


def is_valid_time_zone(name: str) -> bool:
    return name in set(all_time_zones()) or name == "UTC"


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"Unknown time zone {name!r}") from exc


def week_key(day: date) -> str:
    """ISO week of a trainer-local date: 2024-12-30 -> 2025-W01, 2027-01-01 -> 2026-W53."""
    iso = day.isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"


def week_monday(key: str) -> date:
    year, week = key.split("-W")
    return date.fromisocalendar(int(year), int(week), 1)


def local_today(now: datetime, zone_name: str) -> date:
    return now.astimezone(zone(zone_name)).date()


def to_utc(day: date, minutes: int, zone_name: str) -> datetime:
    """The UTC instant of a local wall-clock time; minutes may be 1440 (end of day)."""
    if minutes == MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=1), 0
    tz = zone(zone_name)
    naive = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    # A wall time that survives the UTC round trip exists; in a spring-forward gap both
    # folds map to a different wall time.
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive and (
        second.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive
    ):
        raise NonexistentLocalTime(day, minutes, zone_name)
    return first.astimezone(UTC)


def interval_to_utc(day: date, start: int, end: int, zone_name: str) -> tuple[datetime, datetime]:
    return to_utc(day, start, zone_name), to_utc(day, end, zone_name)


UTC_ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(instant: datetime) -> str:
    """Sortable, fixed-width UTC timestamp used in keys and stored attributes."""
    return instant.astimezone(UTC).strftime(UTC_ISO_FORMAT)


@lru_cache(maxsize=4096)
def parse_utc_iso(text: str) -> datetime:
    """A `utc_iso` timestamp back as an aware UTC datetime.

    Every item read carries a few of these, many of them the same instants (a slot and
    its session start together; a warm Lambda reads the same week again), hence the
    cache (datetimes are immutable, so sharing one is safe). Uncached, strptime costs
    ~6 µs against ~1 µs for fromisoformat; fromisoformat reads more shapes than ours, so
    it is only handed text laid out as ours, and anything it refuses goes to strptime:
    an odd value gets strptime's result or error exactly as before."""
    if (
        len(text) == 20
        and text[19] == "Z"
        and text[10] == "T"
        and text[4] == text[7] == "-"
        and text[13] == text[16] == ":"
    ):
        try:
            return datetime.fromisoformat(text[:19]).replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.strptime(text, UTC_ISO_FORMAT).replace(tzinfo=UTC)
