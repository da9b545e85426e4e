"""Appointment dates as people say them ("next Tuesday", "in 3 days", "on the 14th", "June 5"), and
when to check in afterwards.

The text to parse is spaCy's DATE entity when there is one, else the whole message: the parser only
looks for date expressions, so the rest of the sentence does no harm.
"""

import os
import re
from datetime import date, datetime, time, timedelta, timezone

from dateutil import parser as dateutil_parser
from dateutil.relativedelta import relativedelta

WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
         ("friday", "fri"), ("saturday",), ("sunday",)]
    )
    for name in names
}  # fmt: skip
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
}  # fmt: skip
MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august"
    "|september|october|november|december"
)
MAX_DAYS_AHEAD = 366
# The check-in comes the day after the appointment, at this hour (server time).
CHECKIN_HOUR = 10

_NUMBER = r"(\d{1,3}|" + "|".join(sorted(map(re.escape, NUMBERS), key=len, reverse=True)) + r")"
IN_PERIOD = re.compile(rf"\bin\s+{_NUMBER}\s+(day|week|month)s?\b")
WEEKDAY = re.compile(r"\b(next|this|coming|on)?\s*(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b")
NEXT_PERIOD = re.compile(r"\bnext\s+(week|month)\b")
DAY_OF_MONTH = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)?\b(?!\s*(?:of\s+)?(?:" + MONTHS + r")\b)")
MONTH_NAME = re.compile(r"\b(" + MONTHS + r")\b")
NUMERIC_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word]


def _next_weekday(today: date, weekday: int) -> date:
    """The first such weekday after today (a week ahead when today is that day)."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _day_of_month(today: date, day: int) -> date | None:
    """The next 'the 14th': this month if still ahead, else next month."""
    for months_ahead in (0, 1, 2):
        month_start = today.replace(day=1) + relativedelta(months=months_ahead)
        try:
            candidate = month_start.replace(day=day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _calendar_date(text: str, today: date) -> date | None:
    """A date with a month name or in numbers ("June 5", "3rd of March", "2026-12-01", "12/3")."""
    default = datetime.combine(today, time())
    try:
        parsed = dateutil_parser.parse(text, fuzzy=True, default=default).date()
    except (ValueError, OverflowError):
        return None
    if parsed < today and not re.search(r"\b\d{4}\b", text):
        parsed = parsed + relativedelta(years=1)  # "March 3" said in November means next year's
    return parsed


def parse_appointment_date(text: str, today: date) -> date | None:
    """The date `text` names, seen from `today`; None when it names none or one in the past or more
    than a year ahead."""
    lowered = " ".join((text or "").lower().replace(",", " ").split())
    found: date | None = None
    if re.search(r"\bday after tomorrow\b", lowered):
        found = today + timedelta(days=2)
    elif re.search(r"\btomorrow\b", lowered):
        found = today + timedelta(days=1)
    elif re.search(r"\btoday\b|\btonight\b|\bthis (morning|afternoon|evening)\b", lowered):
        found = today
    elif match := IN_PERIOD.search(lowered):
        count, unit = _count(match.group(1)), match.group(2)
        days = count * (7 if unit == "week" else 1)
        found = today + (relativedelta(months=count) if unit == "month" else timedelta(days=days))
    elif match := WEEKDAY.search(lowered):
        found = _next_weekday(today, WEEKDAYS[match.group(2)])
        if match.group(1) == "next" and (found - today).days < 3:
            found += timedelta(days=7)  # said on a Sunday, "next Monday" is rarely tomorrow
    elif match := NEXT_PERIOD.search(lowered):
        found = today + (relativedelta(months=1) if match.group(1) == "month" else timedelta(days=7))
    elif MONTH_NAME.search(lowered) or NUMERIC_DATE.search(lowered):
        found = _calendar_date(lowered, today)
    elif match := DAY_OF_MONTH.search(lowered):
        found = _day_of_month(today, int(match.group(1)))
    if found is None or found < today or (found - today).days > MAX_DAYS_AHEAD:
        return None
    return found


def date_text(day: date) -> str:
    """E.g. "Tuesday 1 December"."""
    return f"{day:%A} {day.day} {day:%B}"


def checkin_time(appointment: date, now: datetime) -> datetime:
    """When to ask how it went: the day after the appointment at CHECKIN_HOUR, server time.

    SECONDLOOK_CHECKIN_DELAY_SECONDS overrides it with a delay from now (demos and tests)."""
    delay = os.environ.get("SECONDLOOK_CHECKIN_DELAY_SECONDS")
    if delay:
        return now + timedelta(seconds=float(delay))
    local = datetime.combine(appointment + timedelta(days=1), time(CHECKIN_HOUR)).astimezone()
    return local.astimezone(timezone.utc)
