"""Small helpers shared by the Salesforce emulator: record ids and date/time formats."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")


def id18(id15: str) -> str:
    """Salesforce's case-safe 18-character id: 15 chars + 3 checksum chars.

    Each 5-character chunk gives one suffix character whose bit i is set when
    character i of the chunk is an upper-case letter.
    """
    if len(id15) == 18:
        return id15
    suffix = ""
    for chunk in range(3):
        bits = 0
        for i, ch in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(prefix: str, number: int, pod: str = "5g") -> str:
    """An 18-char id: key prefix (3) + pod (2) + '0' + base62 number (9) + checksum."""
    digits = ""
    n = number
    while n:
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    body = digits.rjust(9, "0")
    return id18(f"{prefix}{pod}0{body}")


def random_id(prefix: str) -> str:
    return make_id(prefix, secrets.randbelow(62**8) + 62**7)


def same_id(a: str | None, b: str | None) -> bool:
    """Ids compare on their 15 case-sensitive characters (15 and 18 forms are equal)."""
    if not a or not b:
        return False
    return a[:15] == b[:15]


def now() -> datetime:
    """Salesforce stores date/times at whole-second resolution."""
    return datetime.now(UTC).replace(microsecond=0)


def fmt_datetime(dt: datetime) -> str:
    """REST/JSON form: 2026-11-24T10:00:00.000+0000."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def fmt_datetime_soap(dt: datetime) -> str:
    """SOAP form: 2026-11-24T10:00:00.000Z."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_datetime(value: str) -> datetime | None:
    """Parse the ISO forms Salesforce accepts: Z, +0000, +00:00, with or without millis."""
    m = _DT_RE.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, ms, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    except ValueError:
        return None
    if ms:
        dt = dt.replace(microsecond=int(ms.ljust(3, "0")) * 1000)
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt = dt - sign * offset
    return dt


def parse_date(value: str) -> date | None:
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime | None:
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def digits_of(value: str | None) -> str:
    return "".join(ch for ch in (value or "") if ch.isdigit())
