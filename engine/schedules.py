"""Schedule time math (cron + IANA time zone, presets, DST, misfire plan) and what a run produces.

Pure functions and small value types: no database, no I/O except hashing an artifact file.

Daylight-saving policy (documented for users in the schedule form):
  * Cron expressions are evaluated on the schedule's *wall clock*: "0 9 * * *" in Europe/Berlin is
    09:00 Berlin time every day, i.e. 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
  * A wall-clock time that does not exist (the skipped hour when clocks go forward, e.g. 02:30 on
    2026-03-29 in Berlin) fires once, shifted forward by the length of the gap (03:30 CEST). This
    is Python's `fold=0` reading of a nonexistent time.
  * A wall-clock time that happens twice (the repeated hour when clocks go back, e.g. 02:30 on
    2026-10-25 in Berlin) fires once, at its first occurrence (02:30 CEST = 00:30 UTC). The second
    pass of the repeated hour never fires, so a sub-hourly cron has one longer gap that night.
  * Every instant fires at most once: occurrences that would map to an instant already passed are
    dropped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from engine.periods import PERIOD_DAYS, Window, preset_window

FREQUENCIES = ("daily", "weekly", "monthly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Runs missed while no scheduler was running: the latest one still runs if it is at most this late.
DEFAULT_MISFIRE_GRACE = timedelta(hours=6)
# At most this many missed occurrences are written down as skipped runs (the most recent ones).
MAX_SKIPPED_RECORDED = 50
_MAX_STEPS = 10_000
_ALIASES = {"@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@hourly"}


class ScheduleError(ValueError):
    """A cron expression, time zone or preset the scheduler cannot use; `user_message` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.user_message = message


# ---------------------------------------------------------------------------------------------
# What a run produces and where it goes


@dataclass(frozen=True)
class Artifact:
    """One rendered file of a run. `fingerprint` hashes the data behind it when the file bytes are
    not deterministic (a PDF with its creation date); `only_if_changed` compares fingerprints."""

    name: str
    content_type: str
    path: Path
    sha256: str
    fingerprint: str | None = None

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        content_type: str,
        *,
        name: str | None = None,
        fingerprint: str | None = None,
    ) -> Artifact:
        path = Path(path)
        return cls(name or path.name, content_type, path, file_sha256(path), fingerprint)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "path": str(self.path),
        }


@dataclass(frozen=True)
class Recipient:
    """Where one delivery goes: `channel` (email, webhook, storage, portal) and its `address`.

    `options` carries channel settings that are not part of the label shown to users (a webhook's
    signing secret)."""

    channel: str
    address: str
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.address


@dataclass(frozen=True)
class Bundle:
    """Everything a channel needs to deliver one run to one recipient."""

    schedule_id: int
    schedule_name: str
    report_ref: str
    run_id: int
    due_at: datetime
    timezone: str
    artifacts: tuple[Artifact, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    owner_id: int | None = None
    # The zone the report's days are cut in (REPORT_TIMEZONE); the schedule's zone when unknown.
    report_timezone: str | None = None

    @property
    def period(self) -> str:
        """The report's period parameter (e.g. '7d'), or the due day when the report has none:
        the machine-readable key, for webhook receivers."""
        value = self.params.get("period")
        return (
            str(value)
            if value
            else self.due_at.astimezone(ZoneInfo(self.timezone)).date().isoformat()
        )

    @property
    def window(self) -> Window | None:
        """The days the run reports on, or None for a period this module does not know."""
        try:
            return period_window(self.period, self.due_at, self.timezone)
        except ScheduleError:
            return None

    @property
    def period_label(self) -> str:
        """The period for people: 'Nov 16 – Nov 22, 2026 (Europe/Berlin)', 'October 2026 (UTC)'.

        A report whose owner's role caps the window shows the cut days in the file itself."""
        window = self.window
        if window is None:
            local = self.due_at.astimezone(ZoneInfo(self.timezone)).date()
            window = Window(local, local)
        return f"{window_text(window)} ({self.report_timezone or self.timezone})"


@dataclass(frozen=True)
class DeliveryResult:
    """A delivery that went through: how many tries it took and what the channel reports (a
    message id, an HTTP status, the stored paths). Failures are raised, not returned."""

    channel: str
    recipient: str
    attempts: int = 1
    detail: Mapping[str, Any] = field(default_factory=dict)


class Channel(Protocol):
    """A delivery channel: `send` delivers a run's bundle to one recipient, or raises an error
    carrying a safe `user_message` (and `attempts`, when it retried)."""

    name: str

    def send(self, bundle: Bundle, recipient: Recipient) -> DeliveryResult: ...


def parse_recipients(raw: Mapping[str, Any] | None) -> list[Recipient]:
    """Recipients of a schedule from its JSON: {"email": [...], "webhook": [url | {url, secret}],
    "storage": [path or s3://bucket/prefix], "portal": [user id]}."""
    recipients: list[Recipient] = []
    for channel, entries in (raw or {}).items():
        for entry in entries if isinstance(entries, list | tuple) else [entries]:
            if isinstance(entry, Mapping):
                address = str(entry.get("url") or entry.get("address") or "")
                options = {k: v for k, v in entry.items() if k not in ("url", "address")}
            else:
                address, options = str(entry), {}
            if not address:
                raise ScheduleError(f"a {channel} recipient has no address")
            recipients.append(Recipient(channel, address, options))
    return recipients


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_hash(artifacts: Iterable[Artifact]) -> str:
    """One hash for all files of a run (names and content), independent of their order."""
    parts = sorted(f"{a.name}\0{a.fingerprint or a.sha256}" for a in artifacts)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def period_window(period: str, due_at: datetime, timezone: str) -> Window:
    """The complete days a run due at `due_at` reports on, for a resolved period (not `auto`):
    `previous_day`, `7d`/`30d`/`90d` (days ending the day before) or `previous_month`; the due
    day is read on the schedule's wall clock (`timezone`). A date 'YYYY-MM-DD' is that day."""
    last = as_utc(due_at).astimezone(zone(timezone)).date() - timedelta(days=1)
    if period == "previous_day":
        return Window(last, last)
    if period in PERIOD_DAYS:
        return preset_window(period, last)
    if period == "previous_month":
        end = (last + timedelta(days=1)).replace(day=1) - timedelta(days=1)
        return Window(end.replace(day=1), end)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
        day = datetime.strptime(period, "%Y-%m-%d").date()
        return Window(day, day)
    raise ScheduleError(f"period {period!r}: not a schedule period")


def window_text(window: Window) -> str:
    """'Nov 22, 2026', 'Nov 16 – Nov 22, 2026', 'Dec 28, 2025 – Jan 3, 2026' or 'October 2026'."""
    start, end = window.start, window.end
    if start == end:
        return f"{start:%b %-d, %Y}"
    next_day = end + timedelta(days=1)
    if start.day == 1 and next_day.day == 1 and (start.year, start.month) == (end.year, end.month):
        return f"{start:%B %Y}"
    if start.year == end.year:
        return f"{start:%b %-d} – {end:%b %-d, %Y}"
    return f"{start:%b %-d, %Y} – {end:%b %-d, %Y}"


# ---------------------------------------------------------------------------------------------
# Cron, presets and time zones


def zone(name: str) -> ZoneInfo:
    try:
        if len(name) > 64:  # no IANA name is this long; the lookup would fail with an OSError
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin"
        ) from None


def validate_cron(expr: str) -> str:
    """The expression, stripped, if it is a 5-field cron or an @alias; ScheduleError otherwise."""
    expr = " ".join(expr.split())
    if expr in _ALIASES:
        return expr
    if len(expr.split(" ")) != 5 or not croniter.is_valid(expr):
        raise ScheduleError(
            f"{expr!r} is not a cron expression: use 5 fields (minute hour day month weekday), e.g. '0 9 * * 1'"
        )
    return expr


def preset_cron(frequency: str, at: str | time = "09:00", *, weekday: int = 0, day: int = 1) -> str:
    """The cron expression of a preset: daily at `at`, weekly on `weekday` (0 = Monday), monthly on
    `day` (1-28, or -1 for the last day of the month)."""
    if isinstance(at, str):
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at.strip())
        if not match:
            raise ScheduleError(f"time {at!r}: expected HH:MM")
        hour, minute = int(match[1]), int(match[2])
    else:
        hour, minute = at.hour, at.minute
    if frequency == "daily":
        return f"{minute} {hour} * * *"
    if frequency == "weekly":
        if not 0 <= weekday <= 6:
            raise ScheduleError(f"weekday {weekday}: expected 0 (Monday) to 6 (Sunday)")
        return f"{minute} {hour} * * {(weekday + 1) % 7}"
    if frequency == "monthly":
        if day == -1:
            return f"{minute} {hour} L * *"
        if not 1 <= day <= 28:
            # Days 29-31 do not exist in every month: 'last day' says what users mean.
            raise ScheduleError(f"day {day}: expected 1 to 28, or -1 for the last day of the month")
        return f"{minute} {hour} {day} * *"
    raise ScheduleError(
        f"frequency {frequency!r}: expected one of {', '.join(FREQUENCIES)} or a cron expression"
    )


def describe_cron(expr: str, timezone: str) -> str:
    """A sentence for the schedule list: 'Every Monday at 09:00 (Europe/Berlin)'."""
    fields = expr.split()
    where = f" ({timezone})"
    if len(fields) == 5 and fields[0].isdigit() and fields[1].isdigit() and fields[3] == "*":
        at = f"{int(fields[1]):02d}:{int(fields[0]):02d}"
        dom, dow = fields[2], fields[4]
        if dom == "*" and dow == "*":
            return f"Every day at {at}{where}"
        if dom == "*" and dow.isdigit() and int(dow) <= 7:
            return f"Every {WEEKDAYS[(int(dow) - 1) % 7]} at {at}{where}"
        if dow == "*" and dom == "L":
            return f"On the last day of every month at {at}{where}"
        if dow == "*" and dom.isdigit():
            return f"On day {int(dom)} of every month at {at}{where}"
    return f"Cron '{expr}'{where}"


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` as a UTC instant, with the DST policy of this module."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values (SQLite hands them back so) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SLACK = timedelta(hours=3)  # larger than any daylight-saving shift in the tz database


def _slack(tz: ZoneInfo, instant: datetime) -> timedelta:
    """Wall-clock slack to search around `instant`: none unless a UTC-offset change is near."""
    day = timedelta(days=1)
    before, after = (
        (instant - day).astimezone(tz).utcoffset(),
        (instant + day).astimezone(tz).utcoffset(),
    )
    return timedelta(0) if before == after else _SLACK


def next_fire(cron: str, timezone: str, after: datetime) -> datetime:
    """The first occurrence strictly after `after`, as a UTC instant.

    Occurrences are wall-clock matches of the cron mapped to UTC by `to_utc`; near a DST change the
    wall clock is not monotonic in UTC, so the search looks a few hours around it.
    """
    tz, after = zone(timezone), as_utc(after)
    local = after.astimezone(tz).replace(tzinfo=None)
    stop = local + _slack(tz, after)
    it = croniter(cron, local - _slack(tz, after))
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        naive = it.get_next(datetime)
        candidate = to_utc(naive, tz)
        if candidate > after and (best is None or candidate < best):
            best = candidate
            stop = max(stop, naive + _slack(tz, candidate))
        if best is not None and naive > stop:
            return best
    raise ScheduleError(f"cron {cron!r} has no occurrence after {after:%Y-%m-%d %H:%M} UTC")


def prev_fire(cron: str, timezone: str, at_or_before: datetime) -> datetime:
    """The last occurrence at or before `at_or_before`, as a UTC instant."""
    tz, limit = zone(timezone), as_utc(at_or_before)
    local = limit.astimezone(tz).replace(tzinfo=None)
    stop = local - _slack(tz, limit)
    # croniter is exclusive of its start: start just after `limit` so an occurrence at it counts.
    it = croniter(cron, local + _slack(tz, limit) + timedelta(microseconds=1))
    best: datetime | None = None
    for _ in range(_MAX_STEPS):
        naive = it.get_prev(datetime)
        candidate = to_utc(naive, tz)
        if candidate <= limit and (best is None or candidate > best):
            best = candidate
            stop = min(stop, naive - _slack(tz, candidate))
        if best is not None and naive < stop:
            return best
    raise ScheduleError(f"cron {cron!r} has no occurrence before {limit:%Y-%m-%d %H:%M} UTC")


def first_fire(
    cron: str,
    timezone: str,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> datetime | None:
    """The next occurrence after `now` and not before `starts_at`; None once past `ends_at`."""
    after = as_utc(now)
    if starts_at is not None and as_utc(starts_at) > after:
        after = as_utc(starts_at) - timedelta(microseconds=1)
    fire = next_fire(cron, timezone, after)
    return None if ends_at is not None and fire > as_utc(ends_at) else fire


def upcoming(
    cron: str,
    timezone: str,
    n: int,
    now: datetime,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> list[datetime]:
    """The next `n` occurrences (UTC) within [starts_at, ends_at]."""
    fires: list[datetime] = []
    fire = first_fire(cron, timezone, now, starts_at=starts_at, ends_at=ends_at)
    while fire is not None and len(fires) < n:
        fires.append(fire)
        fire = next_fire(cron, timezone, fire)
        if ends_at is not None and fire > as_utc(ends_at):
            fire = None
    return fires


def format_fire(fire: datetime, timezone: str) -> str:
    """'Mon 30 Mar 2026 09:00 CEST (07:00 UTC)' for previews."""
    local = fire.astimezone(zone(timezone))
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()} ({as_utc(fire):%H:%M} UTC)"


# ---------------------------------------------------------------------------------------------
# Misfire policy


@dataclass(frozen=True)
class DuePlan:
    """What a scheduler does with a schedule whose next run time has passed."""

    run: datetime | None  # the occurrence to run now, if any
    skipped: tuple[datetime, ...]  # older (or too late) occurrences, recorded as skipped
    more_skipped: bool  # more occurrences were missed than are recorded
    next_run_at: datetime | None  # the schedule's next occurrence after now (None: ended)


def plan_due(
    cron: str,
    timezone: str,
    next_run_at: datetime,
    now: datetime,
    *,
    ends_at: datetime | None = None,
    grace: timedelta = DEFAULT_MISFIRE_GRACE,
) -> DuePlan:
    """Misfire policy "latest within grace": of the occurrences in [next_run_at, now], only the
    latest runs, and only if it is at most `grace` late; every other one is recorded as skipped.

    A scheduler that was down for three days therefore sends one report (today's, if today's
    is less than `grace` old), not three; an ordinary tick finds exactly one due occurrence.
    """
    now, next_run_at = as_utc(now), as_utc(next_run_at)
    end = min(now, as_utc(ends_at)) if ends_at is not None else now
    following = next_fire(cron, timezone, now)
    next_after = None if ends_at is not None and following > as_utc(ends_at) else following
    if next_run_at > end:
        return DuePlan(None, (), False, next_after if next_run_at > now else None)
    latest = prev_fire(cron, timezone, end)
    run = latest if now - latest <= grace and latest >= next_run_at else None
    skipped: list[datetime] = []
    cursor = latest if run is None else None
    if run is not None and latest > next_run_at:
        cursor = prev_fire(cron, timezone, latest - timedelta(microseconds=1))
    while cursor is not None and cursor >= next_run_at and len(skipped) < MAX_SKIPPED_RECORDED:
        skipped.append(cursor)
        cursor = (
            prev_fire(cron, timezone, cursor - timedelta(microseconds=1))
            if cursor > next_run_at
            else None
        )
    more = cursor is not None and cursor >= next_run_at
    return DuePlan(run, tuple(reversed(skipped)), more, next_after)
