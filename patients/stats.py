"""How fast sites answer: overdue inquiries, counts by status, median time to first contact.

Everything here reads anonymous columns (dates, statuses, sites), so the figures survive the
erasure of the patients' data.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Aggregate, Count, DurationField, F
from django.db.models.functions import TruncWeek
from django.utils import timezone

from patients.models import Inquiry, InquiryStatus

OVERDUE_BUSINESS_DAYS = 2
WEEKS = 12  # the weeks before this one


def business_days_before(moment: datetime.datetime, days: int) -> datetime.datetime:
    """The moment `days` working days (Monday to Friday) before `moment`, in local time.

    An inquiry submitted before it and still "new" has waited more than `days` working days.
    """
    current = timezone.localtime(moment)
    counted = 0
    while counted < days:
        current -= datetime.timedelta(days=1)
        if current.weekday() < 5:
            counted += 1
    return current


def overdue_cutoff(now: datetime.datetime | None = None) -> datetime.datetime:
    return business_days_before(now or timezone.now(), OVERDUE_BUSINESS_DAYS)


def is_overdue(inquiry: Inquiry, cutoff: datetime.datetime) -> bool:
    return inquiry.status == InquiryStatus.NEW and inquiry.created_at < cutoff


class Median(Aggregate):
    """PostgreSQL's percentile_cont(0.5): the median of numbers or intervals."""

    function = "percentile_cont"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


@dataclass
class Week:
    start: datetime.date
    submitted: int = 0
    contacted: int = 0
    median: datetime.timedelta | None = None

    @property
    def median_hours(self) -> float | None:
        return None if self.median is None else self.median.total_seconds() / 3600


@dataclass
class SiteFigures:
    site: object
    by_status: list[tuple[str, int]] = field(default_factory=list)
    weeks: list[Week] = field(default_factory=list)  # oldest first; the last is this week
    chart: dict = field(default_factory=dict)

    @property
    def this_week(self) -> Week:
        return self.weeks[-1]

    @property
    def total(self) -> int:
        return sum(count for _status, count in self.by_status)


def week_starts(now: datetime.datetime) -> list[datetime.date]:
    today = timezone.localdate(now)
    monday = today - datetime.timedelta(days=today.weekday())
    return [monday - datetime.timedelta(weeks=n) for n in range(WEEKS, -1, -1)]


def response_times(sites, now: datetime.datetime | None = None) -> list[SiteFigures]:
    """Per site: inquiries by status (all time), and for this week and each of the 12 before
    it, how many were submitted, how many were contacted, and the median time from submission
    to first contact (of those contacted). Two queries whatever the number of sites."""
    now = now or timezone.now()
    sites = list(sites)
    starts = week_starts(now)
    first_monday = timezone.make_aware(
        datetime.datetime.combine(starts[0], datetime.time.min), timezone.get_current_timezone()
    )
    figures = {site.pk: SiteFigures(site=site) for site in sites}
    labels: dict[str, str] = {value: str(label) for value, label in InquiryStatus.choices}

    counts = (
        Inquiry.objects.filter(site__in=sites)
        .values("site_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_site: dict[int, dict[str, int]] = {}
    for row in counts:
        by_site.setdefault(row["site_id"], {})[row["status"]] = row["n"]
    for site_id, statuses in by_site.items():
        figures[site_id].by_status = [
            (labels[s], statuses[s]) for s in InquiryStatus.values if s in statuses
        ]

    rows = (
        Inquiry.objects.filter(site__in=sites, created_at__gte=first_monday)
        .annotate(week=TruncWeek("created_at"))
        .values("site_id", "week")
        .annotate(
            submitted=Count("id"),
            contacted=Count("first_contacted_at"),
            median=Median(F("first_contacted_at") - F("created_at"), output_field=DurationField()),
        )
        .order_by()
    )
    weekly: dict[tuple[int, datetime.date], dict[str, Any]] = {}
    for week_row in rows:
        weekly[(week_row["site_id"], timezone.localtime(week_row["week"]).date())] = dict(week_row)
    for site_id, figure in figures.items():
        for start in starts:
            week_figures = weekly.get((site_id, start), {})
            figure.weeks.append(
                Week(
                    start=start,
                    submitted=week_figures.get("submitted", 0),
                    contacted=week_figures.get("contacted", 0),
                    median=week_figures.get("median"),
                )
            )
        figure.chart = chart(figure.weeks)
    return [figures[site.pk] for site in sites]


CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 390, 120, 14


def chart(weeks: list[Week]) -> dict:
    """Bars of the weekly median (hours) laid out for a small inline SVG, drawn server-side."""
    values = [w.median_hours for w in weeks]
    highest = max([v for v in values if v is not None] or [0]) or 1
    step = CHART_WIDTH / len(weeks)
    bars = []
    for index, week in enumerate(weeks):
        hours = week.median_hours
        height = 0 if hours is None else max(2, round((CHART_HEIGHT - CHART_TOP) * hours / highest))
        bars.append(
            {
                "x": round(index * step + 2, 1),
                "y": CHART_HEIGHT - height,
                "width": round(step - 4, 1),
                "height": height,
                "week": week,
                "empty": hours is None,
                "current": index == len(weeks) - 1,
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT + 16,
        "baseline": CHART_HEIGHT,
        "bars": bars,
        "highest_hours": highest if any(v is not None for v in values) else None,
    }
