"""Value readers: times of day, time ranges, durations and dates written in note text.

The playbooks' words are data (specialty_playbooks/vocabularies/); the values those words
label are read here, once for every specialty module. Each reader returns typed values with
their exact offsets into the text it was given (``text[value.start:value.end]`` is what was
written), and reads only what is written: which value matters is the caller's decision.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

# --- times of day --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockTime:
    """A time of day as written: the hour and minute, the AM/PM letter when one is given."""

    hour: int
    minute: int
    meridiem: str | None
    """'a', 'p' or None (24-hour, or a 12-hour clock left unsaid)."""
    start: int = 0
    end: int = 0
    text: str = ""
    """As written ('2:05 PM', '1405')."""

    @property
    def minutes(self) -> int:
        """Minutes after midnight ('2:15 PM' -> 855; '14:05' -> 845)."""
        return _day_minutes(self, self.meridiem)

    @property
    def four_digits(self) -> bool:
        """Written as four digits alone ('1405'): a year or a number as much as a time."""
        return ":" not in self.text and not re.search(r"[aph]", self.text, re.IGNORECASE)

    def label(self) -> str:
        """'14:05'."""
        return f"{self.minutes // 60:02d}:{self.minutes % 60:02d}"


def _day_minutes(clock: ClockTime, meridiem: str | None) -> int:
    if meridiem is None or clock.hour > 12 or clock.hour == 0:
        return clock.hour * 60 + clock.minute  # 24-hour (a stray AM/PM on 14:05 is ignored)
    return (clock.hour % 12 + (12 if meridiem == "p" else 0)) * 60 + clock.minute


_MERIDIEM = r"(?:[ap]\.?[ \t]?m\.?|[ap](?![a-z]))"
CLOCK = (r"(?:(?:[01]?\d|2[0-3]):[0-5]\d(?:[ \t]*" + _MERIDIEM + r")?"
         r"|(?:[01]\d|2[0-3])[0-5]\d(?:[ \t]*(?:hrs?|h)(?![a-z]))?"
         r"|(?:1[0-2]|0?[1-9])[ \t]*[ap]\.?[ \t]?m\.?|(?:1[0-2]|0?[1-9])[ap](?![a-z]))")
"""A regex fragment: a time written where a time is expected (after 'start', in a range):
'2:05 PM', '14:05', '1405', '1405h', '2pm', '1:00p'. Read it with :func:`read_clock`."""
_CLOCK_PARTS = re.compile(r"(?:(?P<h>\d{1,2}):(?P<m>\d{2})|(?P<hh>\d{2})(?P<mm>\d{2})|"
                          r"(?P<hour>\d{1,2}))[ \t]*(?:hrs?|h)?[ \t]*(?P<mer>[ap])?",
                          re.IGNORECASE)


def read_clock(written: str, start: int = 0) -> ClockTime | None:
    """The time a :data:`CLOCK` token gives ('2:05 PM', '14:05', '1405', '2pm').

    The time is placed at ``start``; None when it is no time of day ('25:10').
    """
    found = _CLOCK_PARTS.match(written.strip())
    if found is None:
        return None
    hour = int(found["h"] or found["hh"] or found["hour"])
    minute = int(found["m"] or found["mm"] or "0")
    meridiem = found["mer"].lower() if found["mer"] else None
    if hour > 23 or minute > 59:
        return None
    return ClockTime(hour, minute, meridiem, start, start + len(written), written)


_TIME_OF_DAY = re.compile(r"(?<![\d:/.])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:])"
                          r"(?:\s*(?P<ap>[ap])\.?m\.?(?![A-Za-z]))?", re.IGNORECASE)
_MILITARY = re.compile(r"(?:(?<![\d/])\d{1,2}/\d{1,2}/\d{2,4}|(?<!\d)\d{4}-\d{2}-\d{2}|"
                       r"(?<![A-Za-z])(?:at|@))\s+(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)"
                       r"(?:\s*h(?:rs?)?)?(?![\d:/A-Za-z])", re.IGNORECASE)
"""'0740' as a time: after a date ('08/12/2026 0740') or after 'at' / '@' ('at 0740')."""


def clock_times(text: str) -> list[ClockTime]:
    """Times of day anywhere in ``text``, in order.

    'h:mm' with or without AM/PM ('07:40', '2:15 PM'), and four digits only after a date or
    'at' ('08/12/2026 0740', 'at 0740'), never a blood pressure, a grade or a record
    number. Offsets span the digits.
    """
    found = []
    for pattern in (_TIME_OF_DAY, _MILITARY):
        for match in pattern.finditer(text):
            hour, minute = int(match["h"]), int(match["m"])
            meridiem = (match.groupdict().get("ap") or "").lower() or None
            if meridiem and not 1 <= hour <= 12:
                continue
            start, end = match.start("h"), match.end("m")
            found.append(ClockTime(hour, minute, meridiem, start, end, text[start:end]))
    return sorted(found, key=lambda c: c.start)


def header_time(text: str, lines: int = 3) -> ClockTime | None:
    """The time of day a note gives in its first ``lines`` non-blank lines (its header)."""
    seen, offset = 0, 0
    for line in text.splitlines(keepends=True):
        if line.strip():
            times = clock_times(line)
            if times:
                first = times[0]
                return ClockTime(first.hour, first.minute, first.meridiem,
                                 offset + first.start, offset + first.end, first.text)
            seen += 1
            if seen >= lines:
                return None
        offset += len(line)
    return None


def minutes_between(first: ClockTime, last: ClockTime) -> int:
    """Minutes from ``first`` to ``last`` (1 to 1440).

    AM/PM written only on one time carries to the other ('2:05-3:02 PM'), unless that puts
    the start after the end ('11:30-12:25 PM' began before noon); 12 AM is midnight and 12
    PM noon; a 12-hour range without AM/PM may cross 12 ('12:30-1:25'); an end before the
    start crosses midnight.
    """
    begin = _day_minutes(first, first.meridiem or last.meridiem)
    finish = _day_minutes(last, last.meridiem or first.meridiem)
    if first.meridiem is None and last.meridiem is not None and begin > finish:
        other = "a" if last.meridiem == "p" else "p"
        begin = min(begin, _day_minutes(first, other))
    if (first.meridiem is None and last.meridiem is None and finish < begin
            and 1 <= last.hour <= 12 and first.hour <= 12):
        finish += 12 * 60
    if finish <= begin:
        finish += 24 * 60
    return finish - begin


@dataclass(frozen=True, slots=True)
class TimeRange:
    """Two times of day written as a range ('1:50-2:25 PM', '14:05–15:02', '1400 to 1456')."""

    first: ClockTime
    last: ClockTime
    start: int
    end: int

    @property
    def minutes(self) -> int:
        """Its length (see :func:`minutes_between`)."""
        return minutes_between(self.first, self.last)


_RANGE = re.compile(r"(?<![\w:/.\-])(?P<a>" + CLOCK + r")[ \t]*(?:-|–|—|to|until|till|thru"
                    r"|through)[ \t]*(?P<b>" + CLOCK + r")(?![\w:/])", re.IGNORECASE)


def time_ranges(text: str) -> list[TimeRange]:
    """Time ranges written in ``text``, in order.

    Four-digit ends ('2019-2021') are read too: :attr:`ClockTime.four_digits` lets the
    caller ask for a label first.
    """
    found = []
    for match in _RANGE.finditer(text):
        first = read_clock(match["a"], match.start("a"))
        last = read_clock(match["b"], match.start("b"))
        if first is not None and last is not None:
            found.append(TimeRange(first, last, match.start(), match.end()))
    return found


# --- durations -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Duration:
    """A length of time written in minutes or hours ('55 minutes', '1 hr 5 min', '53+ min')."""

    minutes: int
    start: int
    end: int
    at_least: bool = False
    """Written with a plus ('53+ min'): a threshold, such as a code's range."""


_DURATION = re.compile(
    r"(?<![\w.:/\-])(?:(?P<hours>[1-4])[ \t]*(?:hours?|hrs?)\.?(?:[ \t]*(?:and[ \t]+)?"
    r"(?P<hm>[0-5]?\d)[ \t]*(?:minutes?|mins?)\b)?|(?P<n>\d{1,3})(?P<plus>[ \t]*\+)?"
    r"(?:[ \t]*-[ \t]*)?[ \t]*(?:minutes?|mins?|mns?)\b)", re.IGNORECASE)


def durations(text: str) -> list[Duration]:
    """Durations written in ``text``, in order.

    Forms read: 'N min(utes)', 'N-min', 'N+ min', '1 hour', '2 hrs and 10 minutes' (1 to 4
    hours).
    """
    found = []
    for match in _DURATION.finditer(text):
        minutes = (int(match["hours"]) * 60 + int(match["hm"] or 0) if match["hours"]
                   else int(match["n"]))
        found.append(Duration(minutes, match.start(), match.end(), bool(match["plus"])))
    return found


# --- dates ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WrittenDate:
    """A date written in a text and the days it can mean."""

    kind: str
    """'day' (8/1/26, 2026-08-01), 'month_day' (8/1: the year is ``around``'s), 'month'
    (07/2026, May 2026), 'year' (2019) or 'ago' (3 wks ago: counted back from ``around``)."""
    days: tuple[date, date] | None
    """The first and last day it can mean; None when it cannot be read (13/45/2026, or a
    month/day or 'ago' with no ``around``)."""
    start: int
    end: int
    text: str

    def is_day(self, day: date) -> bool:
        """Whether it names exactly ``day``."""
        return self.days == (day, day)


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_DATE = re.compile(
    r"(?P<mdy>(?<![\d/])(?P<m1>\d{1,2})/(?P<d1>\d{1,2})(?:/(?P<y1>\d{2}|\d{4}))?(?![\d/])"
    r"(?!\s*(?:[a-z]+ )?(?:strength|str\b|motor|power)))"
    r"|(?P<iso>(?<!\d)(?P<y2>\d{4})-(?P<m2>\d{2})-(?P<d2>\d{2})(?!\d))"
    r"|(?P<my>\b(?P<m3>\d{1,2})/(?P<y3>\d{4})\b)"
    r"|(?P<named>\b(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+"
    r"(?P<y4>\d{4})\b)"
    r"|(?P<ago>\b(?P<n>\d+|one|two|three|four|five|six)\s*-?\s*(?P<unit>days?|d|wks?|weeks?|w|"
    r"mos?|months?|yrs?|years?|y)\s+ago\b)"
    r"|(?P<year>\b(?:19[5-9]\d|20\d\d)\b)", re.IGNORECASE)
"""Not a motor grade ('4/5 quad strength')."""


def dates(text: str, around: date | None = None, pos: int = 0,
          endpos: int | None = None) -> list[WrittenDate]:
    """Dates written in ``text[pos:endpos]``, in order.

    Forms read: m/d, m/d/yy, m/d/yyyy, yyyy-mm-dd, m/yyyy, 'May 2026', a year, 'N
    days/weeks/months/years ago'. ``around`` (a note's or the visit's date) gives a
    month/day its year and an 'ago' its day.
    """
    found = []
    for match in _DATE.finditer(text, pos, len(text) if endpos is None else endpos):
        kind = next(k for k in ("mdy", "iso", "my", "named", "ago", "year") if match[k])
        try:
            read = _days(match, kind, around)
        except ValueError:
            read = None
        if kind == "mdy":
            kind = "day" if match["y1"] else "month_day"
        kind = {"iso": "day", "my": "month", "named": "month"}.get(kind, kind)
        found.append(WrittenDate(kind, read, match.start(), match.end(), match[0]))
    return found


def _days(match: re.Match[str], kind: str, around: date | None) -> tuple[date, date] | None:
    if kind in ("mdy", "iso"):
        written = match["y1"] or match["y2"]
        if written is not None:
            year = int(written)
        elif around is not None:
            year = around.year
        else:
            return None
        day = date(year + (2000 if year < 100 else 0), int(match["m1"] or match["m2"]),
                   int(match["d1"] or match["d2"]))
        return day, day
    if kind in ("my", "named"):
        year = int(match["y3"] or match["y4"])
        month = int(match["m3"]) if kind == "my" else MONTHS.index(match["mon"][:3].lower()) + 1
        return date(year, month, 1), date(year, month, monthrange(year, month)[1])
    if kind == "year":
        return date(int(match[0]), 1, 1), date(int(match[0]), 12, 31)
    if around is None:
        return None
    count = _NUMBERS.get(match["n"].lower()) or int(match["n"])
    unit = match["unit"].lower()[0]
    months = {"m": count, "y": 12 * count}.get(unit)
    day = minus_months(around, months) if months else \
        around - timedelta(days=count * (7 if unit == "w" else 1))
    return day, day


def minus_months(day: date, months: int) -> date:
    """The same day ``months`` months earlier (the month's last day when it is shorter)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))
