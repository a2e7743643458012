"""Presentation helpers that must respect the trainer's time zone."""

from datetime import UTC, datetime

from chalicelib.web.render import _local_time


def test_log_times_are_shown_in_the_trainers_zone_across_dst():
    summer = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert _local_time(summer, "Europe/London") == "01 Jul 2026 13:00"  # BST
    assert _local_time(summer, "America/New_York") == "01 Jul 2026 08:00"
    winter = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert _local_time(winter, "Europe/London") == "23 Nov 2026 09:00"
