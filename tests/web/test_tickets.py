"""The ticket list and the ticket page: filters, folded search, live updates, audio, actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import (
    AuditEvent,
    Department,
    RecordingStatus,
    Ticket,
    TicketNote,
    TicketStatus,
    Topic,
    Transcript,
    User,
    utcnow,
)


@pytest.fixture
def officer(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient]
) -> FlaskClient:
    return login(client, users["officer"])


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


# --- the list ------------------------------------------------------------------------------


def test_search_folds_diacritics(officer: FlaskClient, make_ticket: Callable[..., Ticket]) -> None:
    wanted = make_ticket()
    other = make_ticket(
        segments=[
            {
                "start": 0,
                "end": 2,
                "low": False,
                "text": "Đăng ký bảo hiểm xã hội cho người lao động.",
            }
        ],
        business_name=None,
        caller="+84977111222",
    )
    page = text(officer.get("/tickets/", query_string={"q": "HOAN THUE"}))
    assert wanted.number in page and other.number not in page
    page = text(officer.get("/tickets/", query_string={"q": "bao hiem xa hoi"}))
    assert other.number in page and wanted.number not in page
    # Callers read numbers as 0…; Twilio stores +84…
    page = text(officer.get("/tickets/", query_string={"q": "0977111222"}))
    assert other.number in page and wanted.number not in page
    # The ticket number a caller reads out finds the ticket.
    assert wanted.number is not None
    page = text(officer.get("/tickets/", query_string={"q": wanted.number}))
    assert wanted.number in page and other.number not in page
    # LIKE wildcards in the query are plain characters.
    page = text(officer.get("/tickets/", query_string={"q": "%"}))
    assert wanted.number not in page


def test_filters(officer: FlaskClient, make_ticket: Callable[..., Ticket], db: Session) -> None:
    now = utcnow()
    late = make_ticket(called_at=now - timedelta(days=2, hours=6), due_in=timedelta(hours=4))
    fresh = make_ticket()
    done = make_ticket(status=TicketStatus.RESOLVED)
    page = text(officer.get("/tickets/", query_string={"overdue": "1"}))
    assert late.number in page and fresh.number not in page and done.number not in page
    page = text(officer.get("/tickets/", query_string={"status": "resolved"}))
    assert done.number in page and late.number not in page
    day = (now - timedelta(days=2)).astimezone().strftime("%d/%m/%Y")
    page = text(officer.get("/tickets/", query_string={"from": day, "to": day}))
    assert late.number in page and fresh.number not in page
    topic_id = db.scalar(select(Topic.id).where(Topic.code == "thue"))
    dept_id = db.scalar(select(Department.id).where(Department.code == "thue"))
    db.commit()
    page = text(officer.get("/tickets/", query_string={"topic": topic_id, "department": dept_id}))
    assert fresh.number in page


def test_bad_filters_are_reported_not_ignored_silently(officer: FlaskClient) -> None:
    response = officer.get(
        "/tickets/",
        query_string={"status": "lost", "from": "31/02/2026", "department": "x", "page": "0"},
    )
    assert response.status_code == 200
    page = text(response)
    assert "Trạng thái không hợp lệ: lost" in page
    assert "Ngày không hợp lệ (dd/mm/yyyy): 31/02/2026" in page
    assert "Số trang không hợp lệ: 0" in page


def test_list_shows_times_in_vietnam_and_national_numbers(
    officer: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    from datetime import UTC, datetime

    make_ticket(called_at=datetime(2026, 11, 26, 23, 30, tzinfo=UTC), caller="+84912345678")
    page = text(officer.get("/tickets/"))
    assert "27/11/2026 06:30" in page  # 23:30 UTC is 06:30 the next morning in Hà Nội
    assert "0912 345 678" in page


def test_live_update_returns_only_newer_matching_rows(
    officer: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    first = make_ticket()
    body = officer.get("/tickets/updates", query_string={"after": first.id}).get_json()
    assert body == {"latest_id": first.id, "count": 0, "rows": []}
    second = make_ticket()
    invest = make_ticket("dau-tu")  # another department: never sent to this officer
    body = officer.get("/tickets/updates", query_string={"after": first.id}).get_json()
    assert body["count"] == 1 and body["latest_id"] == second.id
    assert second.number in body["rows"][0] and invest.number not in body["rows"][0]
    filtered = officer.get(
        "/tickets/updates", query_string={"after": first.id, "status": "resolved"}
    ).get_json()
    assert filtered["count"] == 0
    assert officer.get("/tickets/updates", query_string={"after": "x"}).status_code == 400
    # The list page tells the script where to start.
    assert f'data-after="{invest.id}"' in text(officer.get("/tickets/"))


# --- the ticket page ---------------------------------------------------------------------------


def test_ticket_page_shows_transcript_segments_and_player(
    officer: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    earlier = make_ticket(called_at=utcnow() - timedelta(days=3), caller="0912345678")
    ticket = make_ticket()
    page = text(officer.get(f"/tickets/{ticket.number}"))
    assert 'class="segment is-low"' in page  # the unsure line is marked
    assert page.count('class="segment"') + page.count('class="segment is-low"') == 3
    assert 'data-start="2.0"' in page
    assert f"/tickets/{ticket.number}/recordings/{ticket.recordings[0].id}/audio" in page
    assert "0912 345 678" in page
    assert earlier.number in page  # +84… and 0… are the same caller


def test_ticket_page_of_a_failed_transcription_still_plays_audio(
    officer: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    ticket = make_ticket(recording_status=RecordingStatus.FAILED)
    page = text(officer.get(f"/tickets/{ticket.number}"))
    assert "Không chuyển được thành văn bản; hãy nghe bản ghi âm." in page
    assert "<audio" in page


def test_audio_supports_range_requests(
    officer: FlaskClient, make_ticket: Callable[..., Ticket], wav_bytes: bytes
) -> None:
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}/recordings/{ticket.recordings[0].id}/audio"
    whole = officer.get(url)
    assert whole.status_code == 200 and whole.get_data() == wav_bytes
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.mimetype == "audio/wav"
    assert "private" in whole.headers["Cache-Control"]
    part = officer.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.get_data() == wav_bytes[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(wav_bytes)}"
    tail = officer.get(url, headers={"Range": "bytes=-100"})
    assert tail.get_data() == wav_bytes[-100:]
    assert officer.get(url, headers={"Range": f"bytes={len(wav_bytes) + 10}-"}).status_code == 416


def test_audio_of_a_recording_not_stored_is_404(
    officer: FlaskClient, make_ticket: Callable[..., Ticket]
) -> None:
    ticket = make_ticket(audio=False)
    url = f"/tickets/{ticket.number}/recordings/{ticket.recordings[0].id}/audio"
    assert officer.get(url).status_code == 404
    assert officer.get(f"/tickets/{ticket.number}/recordings/999/audio").status_code == 404


# --- actions ---------------------------------------------------------------------------------


def count(db: Session, model: Any) -> int:
    found = db.scalar(select(func.count()).select_from(model)) or 0
    db.commit()
    return int(found)


def test_correct_transcript_keeps_the_original_and_is_found_by_search(
    officer: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    users: dict[str, User],
) -> None:
    ticket = make_ticket()
    number = ticket.number
    transcript_id = ticket.recordings[0].transcript.id
    machine = ticket.recordings[0].transcript.text
    response = post(
        f"/tickets/{ticket.number}/transcript",
        {"transcript_id": transcript_id, "text": "Hỏi về khấu trừ thuế nhà thầu."},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/tickets/{ticket.number}"
    page = text(officer.get(response.headers["Location"]))
    assert "Đã lưu bản sửa; bản ghi lời gốc vẫn được giữ lại." in page
    assert "Hỏi về khấu trừ thuế nhà thầu." in page
    db.expire_all()
    transcript = db.get(Transcript, transcript_id)
    assert transcript is not None
    assert transcript.text == machine
    assert transcript.corrected_text == "Hỏi về khấu trừ thuế nhà thầu."
    assert transcript.corrected_by_id == users["officer"].id
    db.commit()
    assert number in text(officer.get("/tickets/", query_string={"q": "khau tru"}))


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("transcript", {"text": "   "}, "Vui lòng nhập mục này."),
        ("transcript", {"transcript_id": "999", "text": "x"}, "Bản ghi lời này không thuộc phiếu."),
        ("notes", {"body": ""}, "Vui lòng nhập mục này."),
        ("reassign", {"department": "1", "reason": ""}, "Vui lòng nhập mục này."),
        ("reassign", {"department": "9999", "reason": "sai đơn vị"}, "Lựa chọn không hợp lệ."),
        ("topic", {"topic": "abc", "reason": "x"}, "Lựa chọn không hợp lệ."),
        ("resolve", {"note": " "}, "Vui lòng nhập mục này."),
    ],
)
def test_bad_input_is_a_clear_message_and_changes_nothing(
    officer: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    path: str,
    data: dict[str, str],
    message: str,
) -> None:
    ticket = make_ticket()
    form = dict(data)
    if path == "transcript":
        form.setdefault("transcript_id", str(ticket.recordings[0].transcript.id))
    before = (count(db, AuditEvent), count(db, TicketNote))
    response = post(f"/tickets/{ticket.number}/{path}", form)
    assert response.status_code == 422
    assert message in text(response)
    assert (count(db, AuditEvent), count(db, TicketNote)) == before
    db.expire_all()
    again = db.get(Ticket, ticket.id)
    assert again is not None and again.status is TicketStatus.OPEN
    assert again.recordings[0].transcript.corrected_text is None
    db.commit()


def test_note_reassign_topic_and_resolve(
    officer: FlaskClient,
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
    users: dict[str, User],
) -> None:
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    assert post(f"{url}/notes", {"body": "Đã gửi hướng dẫn qua e-mail."}).status_code == 303
    assert "Đã gửi hướng dẫn qua e-mail." in text(officer.get(url))

    vat = db.scalar(select(Topic).where(Topic.code == "thue"))
    other = db.scalar(
        select(Topic).where(
            Topic.code != "thue", Topic.department_id == vat.department_id if vat else None
        )
    )
    db.commit()
    del other
    response = post(f"{url}/resolve", {"note": "Đã hướng dẫn thủ tục hoàn thuế GTGT."})
    assert response.status_code == 303
    db.expire_all()
    resolved = db.get(Ticket, ticket.id)
    assert resolved is not None and resolved.status is TicketStatus.RESOLVED
    assert resolved.resolved_by_id == users["officer"].id
    db.commit()
    page = text(officer.get(url))
    assert "Đã hướng dẫn thủ tục hoàn thuế GTGT." in page
    # A resolved ticket cannot be resolved again: the service's message, nothing changed.
    again = post(f"{url}/resolve", {"note": "lần nữa"})
    assert again.status_code == 422
    assert "Phiếu đã được giải quyết, không thể thay đổi." in text(again)


def test_reassign_to_another_department_leaves_the_officers_view(
    officer: FlaskClient, make_ticket: Callable[..., Ticket], post: Any, db: Session
) -> None:
    ticket = make_ticket()
    finance = db.scalar(select(Department.id).where(Department.code == "tai-chinh"))
    db.commit()
    response = post(
        f"/tickets/{ticket.number}/reassign",
        {"department": finance, "reason": "Hỏi về đăng ký đầu tư"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/tickets/"
    assert officer.get(f"/tickets/{ticket.number}").status_code == 404
    event = db.scalar(
        select(AuditEvent).where(
            AuditEvent.ticket_id == ticket.id, AuditEvent.reason == "Hỏi về đăng ký đầu tư"
        )
    )
    assert event is not None
    db.commit()


def test_change_topic_moves_department_and_shows_in_history(
    client: FlaskClient,
    users: dict[str, User],
    login: Callable[..., FlaskClient],
    make_ticket: Callable[..., Ticket],
    post: Any,
    db: Session,
) -> None:
    login(client, users["supervisor"])
    ticket = make_ticket()
    invest = db.scalar(select(Topic).where(Topic.code == "dau-tu"))
    assert invest is not None
    invest_id, invest_dept = invest.id, invest.department_id
    db.commit()
    response = post(
        f"/tickets/{ticket.number}/topic",
        {"topic": invest_id, "reason": "Người gọi hỏi về dự án đầu tư"},
    )
    assert response.status_code == 303
    db.expire_all()
    moved = db.get(Ticket, ticket.id)
    assert moved is not None and moved.topic_id == invest_id
    assert moved.department_id == invest_dept
    db.commit()
    page = text(client.get(f"/tickets/{ticket.number}"))
    assert "Người gọi hỏi về dự án đầu tư" in page and "Lịch sử" in page
