"""Routing: keypad first, transcript keywords when the keypad says nothing, suggestions, areas."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import (
    AuditEvent,
    Department,
    Role,
    Ticket,
    TicketStatus,
    Topic,
    User,
)
from storage.seed import load_reference_data
from tests.tickets.helpers import vn
from tickets.calendar import OfficeCalendar
from tickets.policy import TicketPolicy
from tickets.queries import earlier_tickets
from tickets.routing import AreaRule, TopicRule, decide, detect_area, score_topics
from tickets.services import change_topic, reassign, route_ticket

# --- the rules alone (seed data, no database) --------------------------------------------------

_DATA = load_reference_data()
_DEPTS = {d["code"]: i for i, d in enumerate(_DATA["departments"], start=1)}
RULES = [
    TopicRule(
        id=i,
        code=t["code"],
        name=t["name_vi"],
        department_id=_DEPTS[t["department"]],
        keywords=tuple(t["keywords"]),
        is_fallback=bool(t.get("is_fallback", False)),
        sort_order=i,
    )
    for i, t in enumerate(_DATA["topics"], start=1)
]
BY_CODE = {r.code: r for r in RULES}
AREAS = [
    AreaRule(i, a["code"], a["name"], tuple(a.get("aliases", ())))
    for i, a in enumerate(_DATA["areas"], start=1)
]

TAX_CALL = (
    "Công ty em ở Yên Phong muốn hỏi về hoàn thuế giá trị gia tăng, số điện thoại không chín "
    "tám tám một hai ba bốn năm sáu"
)


def best(text: str) -> str | None:
    winner = score_topics(text, RULES).clear_winner()
    return winner.topic.code if winner else None


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (TAX_CALL, "thue"),
        (TAX_CALL.lower().replace("ế", "e"), "thue"),
        (
            "cong ty em o yen phong muon hoi ve hoan thue gia tri gia tang so dien thoai",
            "thue",
        ),
        (
            "Doanh nghiệp tôi cần gia hạn thời hạn thuê đất ở khu công nghiệp Quế Võ.",
            "dat-dai-xay-dung",
        ),
        ("doanh nghiep toi can gia han thue dat o khu cong nghiep", "dat-dai-xay-dung"),
        ("Xin hỏi thủ tục xin giấy phép môi trường cho nhà máy, xả thải nước thải.", "moi-truong"),
        ("Tôi muốn hỏi về chế độ thai sản và sổ bảo hiểm xã hội cho công nhân.", "bhxh"),
        ("Công ty cần làm thủ tục thông quan hàng nhập khẩu, tờ khai hải quan bị lỗi.", "hai-quan"),
        ("Chúng tôi muốn điều chỉnh giấy chứng nhận đăng ký đầu tư cho dự án.", "dau-tu"),
        (
            "Cho hỏi về giấy phép lao động cho người nước ngoài làm việc tại công ty.",
            "lao-dong-bhxh",
        ),
        ("Nhà xưởng của công ty cần xin giấy phép xây dựng mở rộng.", "xay-dung"),
        (
            "Khu vực nhà máy bị mất điện liên tục, đề nghị điện lực kiểm tra trạm biến áp.",
            "cong-thuong",
        ),
        ("We need help with customs clearance for our import shipment.", "hai-quan"),
    ],
)
def test_transcript_points_to_the_right_topic(text: str, topic: str) -> None:
    assert best(text) == topic


def test_phone_number_words_do_not_count_as_electricity() -> None:
    # "số điện thoại" holds "điện"; the longest-match rule swallows it and scores nobody.
    assert score_topics("Số điện thoại của tôi là không chín một hai", RULES).best is None


def test_tone_marks_separate_tax_from_rent() -> None:
    # "thuê văn phòng" (renting an office) must not be tax evidence worth routing on.
    evidence = score_topics("Công ty muốn thuê văn phòng", RULES)
    assert evidence.clear_winner() is None
    assert evidence.score_of(BY_CODE["thue"].id) == 0.5  # a folded match only, half weight


def test_keypad_decides_and_contrary_evidence_becomes_a_suggestion() -> None:
    text = "Tôi muốn hỏi thủ tục thông quan hàng xuất khẩu và tờ khai hải quan."
    decision = decide(BY_CODE["thue"], text, RULES, digit_label="1")
    assert decision.topic is BY_CODE["thue"]
    assert decision.reason == "bấm phím 1: Thuế"
    assert decision.suggestion is not None
    assert decision.suggestion.topic.code == "hai-quan"
    assert "thông quan" in decision.suggestion.matched


def test_weak_or_agreeing_evidence_makes_no_suggestion() -> None:
    assert decide(BY_CODE["thue"], TAX_CALL, RULES, digit_label="1").suggestion is None
    # One customs word against a tax question: not strong enough.
    weak = "Hỏi về hoàn thuế giá trị gia tăng cho hàng xuất khẩu"
    assert decide(BY_CODE["thue"], weak, RULES, digit_label="1").suggestion is None
    # Topics of one department (land and environment) need no move.
    env = "Giấy phép môi trường và nước thải của nhà máy"
    assert decide(BY_CODE["dat-dai-xay-dung"], env, RULES).suggestion is None


def test_fallback_key_routes_by_transcript_with_the_words_as_reason() -> None:
    decision = decide(BY_CODE["khac"], TAX_CALL, RULES, digit_label="0")
    assert decision.topic is BY_CODE["thue"]
    assert decision.by_transcript
    assert (
        decision.reason == "bấm phím 0: Các vấn đề khác; theo nội dung: hoàn thuế, giá trị gia tăng"
    )


def test_no_key_and_no_keywords_stays_with_the_fallback() -> None:
    decision = decide(None, "Alo alo, tôi gọi lại sau nhé.", RULES)
    assert decision.topic is BY_CODE["khac"]
    assert decision.reason == "không bấm phím; nội dung không có từ khóa"
    assert decide(None, "", RULES).reason == "không bấm phím; không có nội dung ghi âm"


def test_a_tie_between_departments_is_not_a_decision() -> None:
    decision = decide(None, "hỏi về thuế và đất", RULES)
    assert decision.topic is BY_CODE["khac"]
    assert "chưa rõ" in decision.reason


@pytest.mark.parametrize(
    ("text", "area"),
    [
        (TAX_CALL, "yen-phong"),
        ("cong ty em o yen phong", "yen-phong"),
        ("dự án ở khu công nghiệp Quế Võ", "que-vo"),
        ("nhà máy ở khu công nghiệp Quang Châu", "viet-yen"),
        ("văn phòng ở thành phố Bắc Ninh", "bac-ninh"),
        ("Công ty ở Từ Sơn, chi nhánh ở Tiên Du", "tu-son"),  # the first one named
        ("Chúng tôi ở huyện Hiệp Hoà", "hiep-hoa"),  # old tone placement
    ],
)
def test_area_is_detected(text: str, area: str) -> None:
    hit = detect_area(text, AREAS)
    assert hit is not None and hit.area.code == area


def test_province_name_alone_is_not_an_area() -> None:
    assert detect_area("Tôi gọi Thuế tỉnh Bắc Ninh và Hải quan Bắc Ninh", AREAS) is None
    hit = detect_area("Công ty em ở Yên Phong, tỉnh Bắc Ninh", AREAS)
    assert hit is not None and hit.area.code == "yen-phong" and hit.said == "Yên Phong"


# --- route_ticket on the database ---------------------------------------------------------------


def _route(db: Session, ticket: Ticket, calendar: OfficeCalendar, policy: TicketPolicy) -> Ticket:
    routed = route_ticket(
        db, ticket_id=ticket.id, now=vn(2026, 12, 1, 9, 5), calendar=calendar, options=policy
    )
    assert routed is not None
    return routed


def _department(db: Session, code: str) -> Department:
    dept = db.scalar(select(Department).where(Department.code == code))
    assert dept is not None
    return dept


def _events(db: Session, ticket: Ticket) -> list[tuple[str, str | None, str | None]]:
    rows = db.scalars(
        select(AuditEvent).where(AuditEvent.ticket_id == ticket.id).order_by(AuditEvent.id)
    )
    return [(e.action, e.from_value, e.to_value) for e in rows]


def test_keypad_ticket_gets_department_due_time_area_and_number(
    db: Session,
    make_ticket: Callable[..., Ticket],
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    ticket = make_ticket(
        digit_topic="thue",
        text=TAX_CALL,
        status=TicketStatus.IN_CALL,
        called_at=vn(2026, 12, 1, 9, 0),
    )
    _route(db, ticket, calendar, policy)
    assert ticket.department is _department(db, "thue")
    assert ticket.routing_reason == "bấm phím 1: Thuế"
    assert ticket.callback_due_at == vn(2026, 12, 1, 15, 0)
    assert ticket.area is not None and ticket.area.code == "yen-phong"
    assert ticket.callback_number == "+84988123456"
    assert ticket.suggested_topic is None
    assert ticket.status is TicketStatus.OPEN
    actions = [a for a, _, _ in _events(db, ticket)]
    assert {"due_changed", "area_changed", "callback_number_changed", "status_changed"} <= set(
        actions
    )


def test_routing_twice_changes_nothing(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    ticket = make_ticket(digit_topic="khac", text=TAX_CALL)
    _route(db, ticket, calendar, policy)
    before = (
        _events(db, ticket),
        ticket.department_id,
        ticket.topic_id,
        ticket.callback_due_at,
        ticket.routing_reason,
    )
    _route(db, ticket, calendar, policy)
    after = (
        _events(db, ticket),
        ticket.department_id,
        ticket.topic_id,
        ticket.callback_due_at,
        ticket.routing_reason,
    )
    assert before == after


def test_anything_else_is_routed_by_transcript_without_diacritics(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    text = "cong ty chung toi can lam thu tuc thong quan hang nhap khau, to khai hai quan bi loi"
    ticket = make_ticket(digit_topic="khac", text=text)
    _route(db, ticket, calendar, policy)
    assert ticket.topic is not None and ticket.topic.code == "hai-quan"
    assert ticket.department is _department(db, "hai-quan")
    assert ticket.routing_reason.startswith("bấm phím 0: Các vấn đề khác; theo nội dung: ")
    assert "thông quan" in ticket.routing_reason
    assert ("routed", "hanh-chinh-cong", "hai-quan") in _events(db, ticket)


def test_hung_up_before_choosing_routes_by_transcript(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    ticket = make_ticket(digit_topic=None, text="Tôi hỏi về chế độ thai sản, sổ bảo hiểm xã hội.")
    _route(db, ticket, calendar, policy)
    assert ticket.topic is not None and ticket.topic.code == "bhxh"
    assert ticket.department is _department(db, "bhxh")
    assert ticket.routing_reason.startswith("không bấm phím; theo nội dung: ")


def test_missed_call_without_key_goes_to_the_one_stop_centre(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    ticket = make_ticket(digit_topic=None, called_at=vn(2026, 12, 5, 10, 0))
    _route(db, ticket, calendar, policy)
    assert ticket.department is _department(db, "hanh-chinh-cong")
    assert ticket.callback_due_at == vn(2026, 12, 7, 11, 30)  # Saturday call: Monday's clock


def test_keypad_choice_kept_and_suggestion_recorded(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    text = "Cho tôi hỏi về giấy phép lao động cho người nước ngoài và hợp đồng lao động."
    ticket = make_ticket(digit_topic="thue", text=text)
    _route(db, ticket, calendar, policy)
    assert ticket.department is _department(db, "thue")
    assert ticket.suggested_topic is not None and ticket.suggested_topic.code == "lao-dong-bhxh"
    assert ticket.suggestion_reason is not None and "giấy phép lao động" in ticket.suggestion_reason


def test_a_person_s_routing_is_never_overridden(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    officer = make_user(Role.SUPERVISOR)
    ticket = make_ticket(digit_topic="khac", text=TAX_CALL)
    _route(db, ticket, calendar, policy)
    customs = _department(db, "hai-quan")
    reassign(
        db,
        ticket=ticket,
        department_id=customs.id,
        by=officer,
        reason="Hỏi về hàng xuất khẩu",
        now=vn(2026, 12, 1, 9, 30),
    )
    _route(db, ticket, calendar, policy)
    assert ticket.department is customs


def test_change_topic_moves_department_and_due_time(
    db: Session,
    make_ticket: Callable[..., Ticket],
    make_user: Callable[..., User],
    topics: dict[str, Topic],
    calendar: OfficeCalendar,
    policy: TicketPolicy,
) -> None:
    topics["hai-quan"].sla_hours = 8
    officer = make_user(Role.OFFICER, ("thue",))
    ticket = make_ticket(digit_topic="thue", text="Hỏi về thông quan, tờ khai hải quan, nhập khẩu")
    _route(db, ticket, calendar, policy)
    assert ticket.suggested_topic is topics["hai-quan"]
    change_topic(
        db,
        ticket=ticket,
        topic_id=topics["hai-quan"].id,
        by=officer,
        reason="Theo gợi ý",
        now=vn(2026, 12, 1, 9, 30),
        calendar=calendar,
    )
    assert ticket.department is _department(db, "hai-quan")
    assert ticket.suggested_topic is None
    assert ticket.callback_due_at == vn(2026, 12, 2, 9, 30)  # 8 working hours from 09:00
    events = _events(db, ticket)
    assert ("topic_changed", "thue", "hai-quan") in events
    assert ("department_changed", "thue", "hai-quan") in events


def test_earlier_tickets_link_plus84_and_zero_forms(
    db: Session, make_ticket: Callable[..., Ticket], calendar: OfficeCalendar, policy: TicketPolicy
) -> None:
    first = make_ticket(caller="+84912345678", called_at=vn(2026, 11, 20, 9, 0))
    second = make_ticket(
        caller="0987000111", called_at=vn(2026, 11, 25, 9, 0), callback_number="0912345678"
    )
    make_ticket(caller="+84900000000", called_at=vn(2026, 11, 26, 9, 0))
    latest = make_ticket(caller="0912345678", called_at=vn(2026, 12, 1, 9, 0))
    assert [t.id for t in earlier_tickets(db, latest)] == [second.id, first.id]
    # The same works from a number spoken in the message.
    spoken = make_ticket(
        caller="anonymous",
        called_at=vn(2026, 12, 2, 9, 0),
        text="số không chín một hai ba bốn năm sáu bảy tám",
    )
    _route(db, spoken, calendar, policy)
    assert latest.id in [t.id for t in earlier_tickets(db, spoken)]
