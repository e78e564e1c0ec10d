"""Reports: the numbers (per day, topic, department, area, SLA, time to callback, failures),
the charts on the page and the CSV with the same data."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from storage.models import RecordingStatus, Ticket, User
from web.reports import build_report, median, percentile

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_percentile_nearest_rank() -> None:
    assert percentile([], 90) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([float(i) for i in range(1, 11)], 90) == 9.0
    assert percentile([float(i) for i in range(1, 11)], 100) == 10.0
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0, 3.0, 10.0]) == 2.5


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=200))
def test_percentiles_lie_within_the_data(values: list[float]) -> None:
    p90 = percentile(values, 90)
    med = median(values)
    assert p90 is not None and med is not None
    assert min(values) <= med <= max(values)
    assert min(values) <= p90 <= max(values)
    assert p90 in values


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # The page counts "due" against the app's clock: freeze it the day after the period.
    app_config["HOTLINE_CLOCK"] = lambda: NOW
    return app_config


@pytest.fixture
def period(db: Session, make_ticket: Callable[..., Ticket]) -> list[Ticket]:
    """Four calls on 25–26/11 (local days): callbacks early, late, missing; one failed."""
    day1 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
    day2 = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 00:30 on the 26th in Hà Nội
    early = make_ticket(called_at=day1, due_in=timedelta(hours=4))
    late = make_ticket(called_at=day1 + timedelta(hours=1), due_in=timedelta(hours=4))
    waiting = make_ticket("dau-tu", called_at=day2, due_in=timedelta(hours=4))
    failed = make_ticket(
        called_at=day2, due_in=timedelta(days=5), recording_status=RecordingStatus.FAILED
    )
    early.first_callback_at = early.called_at + timedelta(minutes=30)
    late.first_callback_at = late.called_at + timedelta(hours=6)
    failed.recordings[0].error = "model crashed"
    db.commit()
    return [early, late, waiting, failed]


def test_report_numbers(db: Session, period: list[Ticket]) -> None:
    report = build_report(
        db, date_from=date(2026, 11, 24), date_to=date(2026, 11, 26), tz=TZ, now=NOW
    )
    db.commit()
    assert report.total == 4
    assert report.per_day == [
        (date(2026, 11, 24), 0),
        (date(2026, 11, 25), 2),
        (date(2026, 11, 26), 2),
    ]
    assert report.per_topic == [("Thuế", 3), ("Đầu tư – đăng ký kinh doanh", 1)]
    assert report.per_department == [("Thuế tỉnh Bắc Ninh", 3), ("Sở Tài chính", 1)]
    assert report.per_area == [("—", 4)]
    # early met; late missed; waiting is past due and uncalled (missed); failed is not due yet.
    assert (report.within_sla.met, report.within_sla.counted) == (1, 3)
    assert report.first_callback_median == timedelta(hours=3, minutes=15)
    assert report.first_callback_p90 == timedelta(hours=6)
    assert report.called_back == 2
    assert report.recordings == 4
    assert [(f.ticket_number, f.error) for f in report.failures] == [
        (period[3].number, "model crashed")
    ]


def test_reports_page_and_csv(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    period: list[Ticket],
) -> None:
    login(client, users["supervisor"])
    html = client.get("/reports/", query_string={"from": "24/11/2026", "to": "26/11/2026"})
    assert html.status_code == 200
    body = html.get_data(as_text=True)
    assert body.count("<svg") >= 5 and 'role="img"' in body
    assert "Cuộc gọi theo ngày" in body and "25/11/2026" in body
    assert "33%" in body  # 1 of 3 within the SLA
    assert period[3].number in body  # the failed transcription is listed

    response = client.get(
        "/reports/export.csv", query_string={"from": "24/11/2026", "to": "26/11/2026"}
    )
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["Mục", "Nhãn", "Giá trị"]
    data = {(r[0], r[1]): r[2] for r in rows[1:]}
    assert data[("calls_per_day", "25/11/2026")] == "2"
    assert data[("sla", "called_back_within_sla")] == "1"
    assert data[("sla", "counted")] == "3"
    assert data[("first_callback", "median_minutes")] == "195.0"
    assert data[("first_callback", "p90_minutes")] == "360.0"
    assert data[("transcription", "failed")] == "1"


def test_bad_period_is_explained(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient]
) -> None:
    login(client, users["admin"])
    page = client.get("/reports/", query_string={"from": "hôm qua", "to": "01/01/2026"})
    assert page.status_code == 200
    assert "Ngày không hợp lệ (dd/mm/yyyy): hôm qua" in page.get_data(as_text=True)
    assert client.get("/reports/export.csv", query_string={"from": "x"}).status_code == 400
