"""Reports for supervisors: charts and tables of one period, and the same data as CSV."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from web.access import Can, requires
from web.charts import bar_chart, column_chart, share_bar
from web.deps import current_time
from web.formatting import office_tz
from web.listing import parse_day
from web.reports import MAX_DAYS, Report, build_report, report_csv
from web.templating import require_login

bp = Blueprint("reports", __name__, url_prefix="/reports")
require_login(bp)

DEFAULT_DAYS = 30


def _period() -> tuple[date, date, list[str]]:
    """Return the period asked for (default: the last 30 days) and any errors."""
    today = current_time().astimezone(office_tz()).date()
    errors: list[str] = []
    days: dict[str, date] = {}
    for name in ("from", "to"):
        raw = (request.args.get(name) or "").strip()
        if raw:
            try:
                days[name] = parse_day(raw)
            except ValueError:
                errors.append(_("Not a date (dd/mm/yyyy): %(v)s", v=raw))
    date_to = days.get("to", today)
    date_from = days.get("from", date_to - timedelta(days=DEFAULT_DAYS - 1))
    if date_from > date_to:
        errors.append(_("The start date is after the end date."))
        date_from, date_to = date_to - timedelta(days=DEFAULT_DAYS - 1), date_to
    if (date_to - date_from).days >= MAX_DAYS:
        errors.append(_("At most %(n)s days at a time.", n=MAX_DAYS))
        date_from = date_to - timedelta(days=MAX_DAYS - 1)
    return date_from, date_to, errors


def _report() -> tuple[Report, list[str]]:
    date_from, date_to, errors = _period()
    report = build_report(
        g.db,
        date_from=date_from,
        date_to=date_to,
        tz=office_tz(),
        now=current_time(),
        english=str(get_locale()) == "en",
        unknown=_("(none)"),
    )
    return report, errors


@bp.get("/")
@requires(Can.SEE_REPORTS)
def index() -> Any:
    """Show the period's numbers as charts and tables."""
    report, errors = _report()
    others = _("others")
    charts = {
        "day": column_chart(
            [(d.strftime("%d/%m"), n) for d, n in report.per_day],
            title=_("Calls per day"),
            desc=_(
                "%(n)s calls from %(a)s to %(b)s",
                n=report.total,
                a=report.date_from.strftime("%d/%m/%Y"),
                b=report.date_to.strftime("%d/%m/%Y"),
            ),
        ),
        "topic": bar_chart(
            report.per_topic,
            title=_("Calls per topic"),
            desc=_("No calls in this period."),
            others=others,
        ),
        "department": bar_chart(
            report.per_department,
            title=_("Calls per department"),
            desc=_("No calls in this period."),
            others=others,
        ),
        "area": bar_chart(
            report.per_area,
            title=_("Calls per area"),
            desc=_("No calls in this period."),
            others=others,
        ),
        "sla": share_bar(
            report.within_sla.met,
            report.within_sla.counted,
            title=_("Called back within the SLA"),
            desc=_("%(m)s of %(n)s", m=report.within_sla.met, n=report.within_sla.counted),
        ),
    }
    return render_template("reports/index.html", report=report, charts=charts, errors=errors)


@bp.get("/export.csv")
@requires(Can.SEE_REPORTS)
def export() -> Response:
    """Return the same numbers as the page, as CSV."""
    report, errors = _report()
    if errors:
        return Response("\n".join(errors) + "\n", status=400, mimetype="text/plain")
    body = report_csv(report, {"section": _("section"), "label": _("label"), "value": _("value")})
    name = f"hotline-report-{report.date_from:%Y%m%d}-{report.date_to:%Y%m%d}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
