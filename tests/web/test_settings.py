"""Settings (admins): departments, topics, office hours, holidays, users; audited; bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Department, Holiday, OfficeHours, Role, Topic, User, utcnow


@pytest.fixture
def admin(
    client: FlaskClient, users: dict[str, User], login: Callable[..., FlaskClient]
) -> FlaskClient:
    return login(client, users["admin"])


def html(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_add_and_edit_a_department(admin: FlaskClient, post: Any, db: Session) -> None:
    form = {
        "code": "so-y-te",
        "name_vi": "Sở Y tế",
        "name_en": "Department of Health",
        "email": "syt@bacninh.gov.vn",
        "phone": "02223822222",
        "active": "y",
    }
    assert post("/settings/departments", form).status_code == 303
    dept = db.scalar(select(Department).where(Department.code == "so-y-te"))
    assert dept is not None and dept.name_vi == "Sở Y tế"
    dept_id = dept.id
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "settings.department.created"))
    db.commit()
    again = post("/settings/departments", form)
    assert again.status_code == 422 and "Mã này đã được dùng." in html(again)
    bad = post("/settings/departments", dict(form, code="Sở Y Tế", email="not-mail"))
    assert bad.status_code == 422
    assert "Chỉ dùng chữ thường không dấu" in html(bad)
    assert "Địa chỉ e-mail không hợp lệ." in html(bad)
    edit = post(
        f"/settings/departments/{dept_id}", dict(form, name_vi="Sở Y tế tỉnh Bắc Ninh", active="")
    )
    assert edit.status_code == 303
    db.expire_all()
    changed = db.get(Department, dept_id)
    assert changed is not None and changed.name_vi == "Sở Y tế tỉnh Bắc Ninh"
    assert changed.active is False
    db.commit()


def test_topic_keypad_prompt_keywords_and_sla(admin: FlaskClient, post: Any, db: Session) -> None:
    tax = db.scalar(select(Topic).where(Topic.code == "thue"))
    assert tax is not None
    tax_id, dept_id = tax.id, tax.department_id
    db.commit()
    page = html(admin.get(f"/settings/topics/{tax_id}"))
    assert "hoàn thuế" in page  # keywords shown comma-separated
    form = {
        "code": "thue",
        "digit": "1",
        "name_vi": "Thuế",
        "name_en": "Tax",
        "prompt_vi": "Về thuế, xin bấm phím 1.",
        "prompt_en": "For tax, press 1.",
        "keywords": "thuế, hoá đơn\nhoàn thuế, thuế",
        "department": dept_id,
        "sla_hours": "2.5",
        "active": "y",
    }
    assert post(f"/settings/topics/{tax_id}", form).status_code == 303
    db.expire_all()
    saved = db.get(Topic, tax_id)
    assert saved is not None
    assert saved.sla_hours == 2.5 and saved.prompt_vi == "Về thuế, xin bấm phím 1."
    assert saved.keywords == ["thuế", "hoá đơn", "hoàn thuế"]
    db.commit()
    taken = post("/settings/topics", dict(form, code="thue-moi", digit="1"))
    assert taken.status_code == 422 and "Phím này đã được gán cho chủ đề khác." in html(taken)
    bad = post("/settings/topics", dict(form, code="x", digit="12", sla_hours="0"))
    assert bad.status_code == 422
    assert "Một chữ số, từ 0 đến 9." in html(bad) and "Từ 0,25 đến 240 giờ." in html(bad)
    assert db.scalar(select(func.count()).select_from(Topic).where(Topic.code == "x")) == 0
    db.commit()


def test_office_hours(admin: FlaskClient, post: Any, db: Session) -> None:
    saturday = {"weekday": "5", "opens_at": "08:00", "closes_at": "11:30"}
    assert post("/settings/hours", saturday).status_code == 303
    overlap = post("/settings/hours", dict(saturday, opens_at="11:00", closes_at="12:00"))
    assert overlap.status_code == 422 and "trùng với khung giờ khác" in html(overlap)
    backwards = post("/settings/hours", dict(saturday, opens_at="14:00", closes_at="13:00"))
    assert backwards.status_code == 422 and "Giờ đóng cửa phải sau giờ mở cửa." in html(backwards)
    period = db.scalar(select(OfficeHours).where(OfficeHours.weekday == 5))
    assert period is not None and period.opens_at == time(8, 0)
    keep = period.id
    db.execute(delete(OfficeHours).where(OfficeHours.id != keep))
    db.commit()
    last = post(f"/settings/hours/{keep}/delete")
    assert last.status_code == 303
    assert "Không thể xoá khung giờ làm việc cuối cùng" in html(admin.get("/settings/hours"))
    assert db.get(OfficeHours, keep) is not None
    db.commit()


def test_holidays(admin: FlaskClient, post: Any, db: Session) -> None:
    form = {"day": "15/06/2027", "name_vi": "Ngày nghỉ bù thử nghiệm", "name_en": "Test day"}
    assert post("/settings/holidays", form).status_code == 303
    holiday = db.scalar(select(Holiday).where(Holiday.day == date(2027, 6, 15)))
    assert holiday is not None
    holiday_id = holiday.id
    db.commit()
    assert "15/06/2027" in html(admin.get("/settings/holidays"))
    again = post("/settings/holidays", form)
    assert again.status_code == 422 and "Ngày này đã có trong danh sách." in html(again)
    bad = post("/settings/holidays", dict(form, day="30/02/2027"))
    assert bad.status_code == 422 and "Ngày không hợp lệ (dd/mm/yyyy)." in html(bad)
    assert post(f"/settings/holidays/{holiday_id}/delete").status_code == 303
    db.expire_all()
    assert db.get(Holiday, holiday_id) is None
    db.commit()


def test_create_and_edit_users(
    admin: FlaskClient, post: Any, db: Session, users: dict[str, User]
) -> None:
    tax = db.scalar(select(Department.id).where(Department.code == "thue"))
    admin_id = users["admin"].id
    db.commit()
    form = {
        "email": "Moi@Hotline.test",
        "name": "Cán Bộ Mới",
        "role": "officer",
        "departments": [tax],
        "phone": "0912000111",
        "password": "mat-khau-dai",
        "active": "y",
    }
    assert post("/settings/users", form).status_code == 303
    created = db.scalar(select(User).where(User.email == "moi@hotline.test"))
    assert created is not None and created.role is Role.OFFICER
    assert [d.code for d in created.departments] == ["thue"]
    created_id = created.id
    db.commit()
    duplicate = post("/settings/users", form)
    assert duplicate.status_code == 422 and "Đã có người dùng với e-mail này." in html(duplicate)
    no_dept = post("/settings/users", dict(form, email="b@hotline.test", departments=[]))
    assert no_dept.status_code == 422
    assert "phải thuộc ít nhất một đơn vị" in html(no_dept)
    no_password = post("/settings/users", dict(form, email="c@hotline.test", password=""))
    assert no_password.status_code == 422 and "Người dùng mới cần có mật khẩu." in html(no_password)

    edit = post(
        f"/settings/users/{created_id}",
        {"name": "Cán Bộ Mới", "role": "supervisor", "departments": [], "active": "y"},
    )
    assert edit.status_code == 303
    db.expire_all()
    promoted = db.get(User, created_id)
    assert promoted is not None and promoted.role is Role.SUPERVISOR
    db.commit()
    myself = post(
        f"/settings/users/{admin_id}",
        {"name": "Quản Trị", "role": "officer", "departments": [tax], "active": "y"},
    )
    assert myself.status_code == 422 and "Bạn không thể tự bỏ quyền quản trị" in html(myself)


def test_unlock_and_issue_token(
    admin: FlaskClient, post: Any, db: Session, users: dict[str, User]
) -> None:
    officer = users["officer"]
    officer.locked_until = utcnow() + timedelta(minutes=10)
    db.commit()
    assert "bị khoá" in html(admin.get("/settings/users"))
    assert post(f"/settings/users/{officer.id}/unlock").status_code == 303
    db.expire_all()
    assert db.get(User, officer.id).locked_until is None  # type: ignore[union-attr]
    db.commit()
    response = post(f"/settings/users/{officer.id}/token")
    assert response.status_code == 200
    found = re.search(r'<code class="token">(hl_[^<]+)</code>', html(response))
    assert found
    api = admin.get("/api/v1/tickets", headers={"Authorization": f"Bearer {found.group(1)}"})
    assert api.status_code == 200
