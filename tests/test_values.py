"""The shared value readers (agent/notes/values.py), on made-up text."""

from __future__ import annotations

from datetime import date

import pytest

from agent.notes.values import (
    clock_times,
    dates,
    durations,
    header_time,
    minus_months,
    minutes_between,
    read_clock,
    time_ranges,
)

# --- times of day ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "times"), [
    ("Knee clinic  09/03/26  07:40", [460]),
    ("OPERATIVE NOTE 09/03/2026 2:50 PM", [890]),
    ("seen 9:05 am, aspirated at 1130", [545, 690]),
    ("ED note 08/12/2026 0315", [195]),
    ("12:10 a.m. call", [10]),
    ("BP 120/80, 4/5 strength, Session: 1402-1458, MRN 0740", []),
    ("at 13:05 PM", []),  # a 24-hour time with PM is no time of day
])
def test_clock_times(text: str, times: list[int]) -> None:
    assert [c.minutes for c in clock_times(text)] == times


def test_clock_times_give_exact_offsets() -> None:
    text = "Seen in clinic at 0740; op note 2:50 PM."
    found = clock_times(text)
    assert [text[c.start:c.end] for c in found] == ["0740", "2:50"]
    assert [c.label() for c in found] == ["07:40", "14:50"]


def test_header_time_reads_only_the_first_lines() -> None:
    note = "CLINIC NOTE\n\nDate: 08/12/2026 07:40\nAspirated the knee.\n"
    found = header_time(note)
    assert found is not None and found.minutes == 460
    assert note[found.start:found.end] == "07:40"
    assert header_time("A\nB\nC\nD at 0740\n") is None


@pytest.mark.parametrize(("written", "hour", "minute", "meridiem"), [
    ("2:05 PM", 2, 5, "p"), ("14:05", 14, 5, None), ("1405", 14, 5, None),
    ("1:00p", 1, 0, "p"), ("2pm", 2, 0, "p"), ("9:50 a.m.", 9, 50, "a"), ("1405h", 14, 5, None),
])
def test_read_clock(written: str, hour: int, minute: int, meridiem: str | None) -> None:
    clock = read_clock(written)
    assert clock is not None
    assert (clock.hour, clock.minute, clock.meridiem) == (hour, minute, meridiem)


def test_read_clock_rejects_what_is_no_time() -> None:
    assert read_clock("25:10") is None
    assert read_clock("10:75") is None


@pytest.mark.parametrize(("start", "end", "minutes"), [
    ("2:05", "3:02 PM", 57),        # PM carried from the end time
    ("14:05", "15:02", 57),         # 24-hour
    ("1405", "1502", 57),           # hhmm
    ("11:30", "12:25 PM", 55),      # began before noon
    ("12:00", "12:53 PM", 53),      # noon
    ("11:45 PM", "12:40 AM", 55),   # over midnight
    ("12:30", "1:25", 55),          # 12-hour clock, no AM/PM
    ("1:00p", "1:55p", 55),
    ("2pm", "2:53pm", 53),
    ("9:50 a.m.", "10:45 a.m.", 55),
    ("2:00", "2:00", 1440),         # the same time: a whole day
])
def test_minutes_between(start: str, end: str, minutes: int) -> None:
    a, b = read_clock(start), read_clock(end)
    assert a is not None and b is not None
    assert minutes_between(a, b) == minutes


def test_time_ranges() -> None:
    text = "Session 1:50-2:25 PM; family seen 14:30 to 14:45, therapy 2018-2021."
    found = time_ranges(text)
    assert [r.minutes for r in found] == [35, 15, 3]
    assert [text[r.start:r.end] for r in found] == ["1:50-2:25 PM", "14:30 to 14:45",
                                                   "2018-2021"]
    assert text[found[0].last.start:found[0].last.end] == "2:25 PM"
    assert found[2].first.four_digits and not found[0].first.four_digits


# --- durations ------------------------------------------------------------------------------

def test_durations() -> None:
    text = "Met 45 minutes; 1 hr and 10 min with family; 53+ min; a 30-min call; 2 hours."
    found = durations(text)
    assert [(d.minutes, d.at_least) for d in found] == [
        (45, False), (70, False), (53, True), (30, False), (120, False)]
    assert text[found[1].start:found[1].end] == "1 hr and 10 min"


def test_durations_skip_numbers_that_are_not_lengths() -> None:
    assert durations("BP 120/80, 3.5 mg, code 90837") == []


# --- dates ----------------------------------------------------------------------------------

DAY = date(2026, 8, 12)


@pytest.mark.parametrize(("text", "kind", "first", "last"), [
    ("inj 8/1", "month_day", date(2026, 8, 1), date(2026, 8, 1)),
    ("inj 08/01/26", "day", date(2026, 8, 1), date(2026, 8, 1)),
    ("inj 2026-08-01", "day", date(2026, 8, 1), date(2026, 8, 1)),
    ("echo 07/2026", "month", date(2026, 7, 1), date(2026, 7, 31)),
    ("stroke in Feb. 2024", "month", date(2024, 2, 1), date(2024, 2, 29)),
    ("stent 2019", "year", date(2019, 1, 1), date(2019, 12, 31)),
    ("MI 3 wks ago", "ago", date(2026, 7, 22), date(2026, 7, 22)),
    ("fell two months ago", "ago", date(2026, 6, 12), date(2026, 6, 12)),
])
def test_dates(text: str, kind: str, first: date, last: date) -> None:
    (found,) = dates(text, DAY)
    assert (found.kind, found.days) == (kind, (first, last))
    assert text[found.start:found.end] == found.text


def test_dates_without_around_or_not_a_calendar_day_cannot_be_placed() -> None:
    assert [d.days for d in dates("seen 8/1, MI 3 wks ago")] == [None, None]
    assert [d.days for d in dates("on 2/30/2026", DAY)] == [None]


def test_a_motor_grade_is_not_a_date() -> None:
    assert dates("4/5 quad strength, 5/5 motor", DAY) == []


def test_dates_in_a_window() -> None:
    text = "CVA 05/21/2026, TIA 2018"
    assert [d.text for d in dates(text, DAY, 4, 14)] == ["05/21/2026"]
    assert [d.text for d in dates(text, DAY, 15)] == ["2018"]
    assert dates(text, DAY)[0].is_day(date(2026, 5, 21))


def test_minus_months_keeps_to_the_month() -> None:
    assert minus_months(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert minus_months(date(2026, 1, 15), 2) == date(2025, 11, 15)
