"""Reference data (departments, topics, areas, office hours, holidays) from one data file.

The file states its date and sources because this data changes (the 2025 mergers of provincial
departments and of Bắc Giang into Bắc Ninh). Seeding is an upsert by code: it adds what is
missing and updates names, never deletes, so an admin's later edits of other rows survive.
"""

from __future__ import annotations

import json
from datetime import date, time
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Area, Department, Holiday, OfficeHours, Topic


def load_reference_data() -> dict[str, Any]:
    """Return the bundled reference data."""
    text = resources.files("storage").joinpath("data/reference.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def seed_reference(db: Session, data: dict[str, Any] | None = None) -> dict[str, int]:
    """Insert or update the reference data; return how many rows of each kind were added."""
    data = data if data is not None else load_reference_data()
    added = {"departments": 0, "topics": 0, "areas": 0, "office_hours": 0, "holidays": 0}

    departments: dict[str, Department] = {d.code: d for d in db.scalars(select(Department))}
    for item in data["departments"]:
        dept = departments.get(item["code"])
        if dept is None:
            dept = Department(code=item["code"])
            db.add(dept)
            departments[dept.code] = dept
            added["departments"] += 1
        dept.name_vi = item["name_vi"]
        dept.name_en = item.get("name_en", "")
    db.flush()

    topics = {t.code: t for t in db.scalars(select(Topic))}
    for order, item in enumerate(data["topics"]):
        topic = topics.get(item["code"])
        if topic is None:
            topic = Topic(code=item["code"], digit=item.get("digit"), sort_order=order)
            topic.keywords = list(item.get("keywords", []))
            topic.sla_hours = float(item.get("sla_hours", 4))
            topic.is_fallback = bool(item.get("is_fallback", False))
            topic.department = departments[item["department"]]
            db.add(topic)
            added["topics"] += 1
        topic.name_vi = item["name_vi"]
        topic.name_en = item.get("name_en", "")

    areas = {a.code: a for a in db.scalars(select(Area))}
    for item in data["areas"]:
        area = areas.get(item["code"])
        if area is None:
            area = Area(code=item["code"])
            db.add(area)
            added["areas"] += 1
        area.name = item["name"]
        area.kind = item.get("kind", "area")
        area.aliases = list(item.get("aliases", []))

    if db.scalar(select(OfficeHours.id).limit(1)) is None:
        for item in data["office_hours"]:
            for weekday in item["weekdays"]:
                db.add(
                    OfficeHours(
                        weekday=weekday,
                        opens_at=time.fromisoformat(item["opens_at"]),
                        closes_at=time.fromisoformat(item["closes_at"]),
                    )
                )
                added["office_hours"] += 1

    known_days = set(db.scalars(select(Holiday.day)))
    for item in data["holidays"]:
        day = date.fromisoformat(item["day"])
        if day in known_days:
            continue
        db.add(
            Holiday(
                day=day,
                name_vi=item["name_vi"],
                name_en=item.get("name_en", ""),
                is_working_day=bool(item.get("is_working_day", False)),
            )
        )
        added["holidays"] += 1
    db.flush()
    return added
