"""The desk in a real browser: Debian's chromium driven by Playwright against a live server.

Covers what only a browser shows: signing in, searching without diacritics, playing the
recording and jumping by clicking a transcript line, correcting the transcript, logging a
callback from the queue. Saves screenshots of the main pages (into docs/screenshots/ when
HOTLINE_UPDATE_SCREENSHOTS=1).
Skipped, with the reason, where /usr/bin/chromium is not installed (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from storage.models import (
    CallbackAttempt,
    RecordingStatus,
    Ticket,
    TicketStatus,
    Transcript,
    User,
    utcnow,
)

CHROMIUM = Path("/usr/bin/chromium")
# The README's screenshots are refreshed on request (HOTLINE_UPDATE_SCREENSHOTS=1); an ordinary
# run (CI included) writes them to a temporary folder so the checkout stays clean.
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS = (
    DOCS_SCREENSHOTS
    if os.environ.get("HOTLINE_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "hotline-screenshots"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (apt-get install chromium); "
        "the browser tests need /usr/bin/chromium",
    ),
]

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app on a free loopback port in a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required",
                "--mute-audio",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 1280, "height": 860},
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
    )
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Any, user: User, password: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/tickets/")


@pytest.fixture
def scene(
    db: Session, users: dict[str, User], make_ticket: Callable[..., Ticket]
) -> dict[str, Any]:
    """A morning at the desk: one overdue ticket, one fresh, one other topic, one failed."""
    now = utcnow()
    overdue = make_ticket(
        caller="+84987654321",
        called_at=now - timedelta(hours=6),
        due_in=timedelta(hours=4),
        business_name="Công ty CP Đông Á",
        segments=[
            {
                "start": 0.0,
                "end": 3.0,
                "low": False,
                "text": "Tôi cần hỏi về hóa đơn điện tử bị sai mã số thuế.",
            }
        ],
    )
    target = make_ticket()
    make_ticket(
        "dau-tu",
        caller="+84243123456",
        business_name=None,
        segments=[
            {
                "start": 0.0,
                "end": 3.0,
                "low": False,
                "text": "Hỏi thủ tục điều chỉnh giấy chứng nhận đầu tư.",
            }
        ],
    )
    make_ticket(caller="+84901112233", recording_status=RecordingStatus.FAILED, business_name=None)
    db.commit()
    return {"target": target, "overdue": overdue}


def test_officer_finds_listens_and_corrects(
    page: Any, scene: dict[str, Any], users: dict[str, User], db: Session, user_password: str
) -> None:
    target: Ticket = scene["target"]
    sign_in(page, users["officer"], user_password)
    shot(page, "tickets-list")

    # Find the ticket typing without diacritics.
    page.get_by_role("searchbox").fill("hoan thue gia tri gia tang")
    page.get_by_role("button", name="Tìm kiếm", exact=True).click()
    rows = page.locator("#ticket-table tbody tr")
    assert rows.count() == 1
    rows.first.get_by_role("link", name=target.number).click()
    page.wait_for_url(f"**/tickets/{target.number}")
    assert "0912 345 678" in page.locator(".caller-number").inner_text()

    # Play, then jump to the second line by clicking it: the player seeks, the line is marked.
    audio = page.locator("audio.player")
    segment = page.locator(".segment").nth(1)
    assert "is-low" in (segment.get_attribute("class") or "")
    segment.click()
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.player');"
        " return a.currentTime >= 2 && !a.paused; }"
    )
    assert "is-playing" in (segment.get_attribute("class") or "")
    assert segment.get_attribute("aria-current") == "true"
    audio.evaluate("a => a.pause()")
    shot(page, "ticket")

    # Correct the transcript: the original stays, the correction is shown and attributed.
    page.get_by_text("Sửa bản ghi lời").click()
    page.get_by_label("Bản ghi lời đã sửa").fill(
        "Xin chào, tôi là Công ty TNHH Minh Phát ở Từ Sơn. Tôi muốn hỏi về hoàn thuế "
        "giá trị gia tăng cho hàng xuất khẩu."
    )
    page.get_by_role("button", name="Lưu bản sửa").click()
    page.wait_for_url(f"**/tickets/{target.number}")
    assert "Đã lưu bản sửa" in page.locator(".flashes").inner_text()
    assert "hàng xuất khẩu" in page.locator(".corrected").inner_text()
    assert users["officer"].name in page.locator(".corrected").inner_text()
    db.expire_all()
    transcript = db.scalar(
        select(Transcript).where(Transcript.id == target.recordings[0].transcript.id)
    )
    assert transcript is not None and transcript.corrected_text is not None
    assert transcript.text.startswith("Xin chào")  # the machine's text is kept
    db.commit()

    # On a phone the same page is one readable column.
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "ticket-phone")


def test_staff_logs_a_callback_from_the_queue(
    page: Any, scene: dict[str, Any], users: dict[str, User], db: Session, user_password: str
) -> None:
    overdue: Ticket = scene["overdue"]
    page.goto("/login")
    page.get_by_label("E-mail").fill(users["staff"].email)
    page.get_by_label("Mật khẩu").fill(user_password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/queue/")
    first = page.locator(".queue-item").first
    assert "is-overdue" in (first.get_attribute("class") or "")
    assert overdue.number in first.inner_text()
    shot(page, "queue")

    first.get_by_role("link", name="Gọi lại").click()
    page.wait_for_url(f"**/queue/{overdue.number}")
    page.get_by_role("button", name="Nhận phiếu").click()
    page.wait_for_url(f"**/queue/{overdue.number}")
    page.get_by_label("Kết quả", exact=True).select_option("reached_follow_up")
    page.get_by_label("Ghi chú", exact=True).fill(
        "Đã hướng dẫn doanh nghiệp lập hóa đơn điều chỉnh."
    )
    shot(page, "queue-item")
    page.get_by_role("button", name="Lưu kết quả").click()
    page.wait_for_url("**/queue/?done=*")
    assert "Đã lưu kết quả" in page.locator(".flashes").inner_text()
    offer = page.locator(".next-offer")
    assert offer.is_visible()
    assert overdue.number not in offer.inner_text()

    db.expire_all()  # the browser changed the rows through the server's own session
    attempt = db.scalar(select(CallbackAttempt).where(CallbackAttempt.ticket_id == overdue.id))
    assert attempt is not None and attempt.user_id == users["staff"].id
    ticket = db.get(Ticket, overdue.id)
    assert ticket is not None and ticket.status is TicketStatus.FOLLOW_UP
    db.commit()


def test_new_tickets_appear_and_supervisor_pages(
    page: Any,
    scene: dict[str, Any],
    users: dict[str, User],
    make_ticket: Callable[..., Ticket],
    db: Session,
    user_password: str,
) -> None:
    sign_in(page, users["supervisor"], user_password)
    fresh = make_ticket(caller="+84977000111", business_name="Hợp tác xã Yên Phong")
    db.commit()
    page.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    page.locator(f"tr[data-ticket-id='{fresh.id}']").wait_for()
    assert "Phiếu mới: 1" in page.locator("#live-status").inner_text()

    # A fortnight of calls, most called back in time, so the report has something to show.
    now = utcnow()
    for day in range(1, 14):
        for n in range(day % 4 + 1):
            past = make_ticket(
                "dau-tu" if n == 2 else "thue",
                caller=f"+8491{day:03d}{n:04d}",
                called_at=now - timedelta(days=day, hours=n),
                status=TicketStatus.RESOLVED,
            )
            past.first_callback_at = past.called_at + timedelta(minutes=40 + 90 * n)
    db.commit()
    page.goto("/reports/")
    assert page.locator(".chart svg").count() >= 4
    shot(page, "reports")
    page.context.clear_cookies()
    sign_in(page, users["admin"], user_password)
    page.goto("/settings/topics")
    shot(page, "settings-topics")
    page.context.clear_cookies()
    page.goto("/login")
    shot(page, "login", full_page=False)
