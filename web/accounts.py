"""Accounts: creating users, checking passwords, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from storage.models import Department, Role, User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A user cannot be created or changed as asked; `reason` is a code the pages translate."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def create_user(
    db: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    department_codes: Sequence[str] = (),
    department_ids: Sequence[int] = (),
    phone: str | None = None,
) -> User:
    """Create a user; officers and callback staff must belong to at least one department.

    Departments are named by code (the CLI) or by id (the settings page).
    """
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}", reason="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", reason="password"
        )
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with e-mail {email} exists already", reason="duplicate")
    departments = list(
        db.scalars(
            select(Department).where(
                or_(Department.code.in_(department_codes), Department.id.in_(department_ids))
            )
        )
    )
    unknown = set(department_codes) - {d.code for d in departments}
    unknown |= {str(i) for i in set(department_ids) - {d.id for d in departments}}
    if unknown:
        raise AccountError(
            "unknown department(s): " + ", ".join(sorted(unknown)), reason="department"
        )
    if role in (Role.OFFICER, Role.CALLBACK_STAFF) and not departments:
        raise AccountError(
            "officers and callback staff need at least one department", reason="no_department"
        )
    user = User(
        email=email,
        name=name.strip(),
        role=role,
        password_hash=generate_password_hash(password),
        phone=phone,
    )
    user.departments = departments
    db.add(user)
    db.flush()
    return user


def password_matches(user: User, password: str) -> bool:
    """Say whether `password` is the user's password."""
    return check_password_hash(user.password_hash, password)


def hash_token(token: str) -> str:
    """Return the stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(db: Session, user: User) -> str:
    """Give the user a new API token (replacing the old one) and return it; shown only once."""
    token = "hl_" + secrets.token_urlsafe(32)
    user.api_token_hash = hash_token(token)
    db.flush()
    return token


def user_for_token(db: Session, token: str) -> User | None:
    """Return the active user holding `token`, if any."""
    user = db.scalar(select(User).where(User.api_token_hash == hash_token(token)))
    return user if user is not None and user.active else None


# --- signing in ------------------------------------------------------------------------------


class LoginRefused(Exception):
    """The e-mail and password do not open a session; `locked_until` says if it is throttled."""

    def __init__(self, message: str, *, locked_until: datetime | None = None) -> None:
        super().__init__(message)
        self.locked_until = locked_until


_DUMMY_HASH: list[str] = []


def _spend_a_password_check(password: str) -> None:
    # An unknown e-mail costs as much time as a wrong password, so timing does not reveal
    # which e-mail addresses have accounts.
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(generate_password_hash(secrets.token_hex(8)))
    check_password_hash(_DUMMY_HASH[0], password)


def authenticate(
    db: Session,
    *,
    email: str,
    password: str,
    now: datetime,
    max_failures: int,
    lock_minutes: int,
) -> User:
    """Return the user if the password is right; count failures and lock after `max_failures`.

    A locked account refuses even the right password until the lock ends, so guessing is
    limited to `max_failures` tries per `lock_minutes`. Raise LoginRefused otherwise.
    """
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        _spend_a_password_check(password)
        raise LoginRefused("wrong e-mail or password")
    if user.locked_until is not None and user.locked_until > now:
        raise LoginRefused("account locked", locked_until=user.locked_until)
    if not password_matches(user, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lock_minutes)
            user.failed_logins = 0
            db.flush()
            raise LoginRefused("account locked", locked_until=user.locked_until)
        db.flush()
        raise LoginRefused("wrong e-mail or password")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.flush()
    return user


# --- administration ----------------------------------------------------------------------------


def update_user(
    db: Session,
    user: User,
    *,
    name: str,
    role: Role,
    department_ids: Sequence[int],
    phone: str | None,
    active: bool,
) -> User:
    """Change a user's name, role, departments, phone and whether they may sign in."""
    departments = list(db.scalars(select(Department).where(Department.id.in_(department_ids))))
    if role in (Role.OFFICER, Role.CALLBACK_STAFF) and not departments:
        raise AccountError(
            "officers and callback staff need at least one department", reason="no_department"
        )
    user.name = name.strip()
    user.role = role
    user.departments = departments
    user.phone = phone or None
    user.active = active
    db.flush()
    return user


def set_password(db: Session, user: User, password: str) -> None:
    """Give the user a new password and lift any lock (signs out their other sessions)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters", reason="password"
        )
    user.password_hash = generate_password_hash(password)
    user.failed_logins = 0
    user.locked_until = None
    db.flush()


def unlock(db: Session, user: User) -> None:
    """Lift a login lock."""
    user.failed_logins = 0
    user.locked_until = None
    db.flush()


def session_key(user: User) -> str:
    """Return the id a login session stores: changes when the password changes.

    Flask-Login keeps this in the signed session cookie; a new password (or a deactivated
    account, checked on load) ends every session opened before.
    """
    stamp = hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
    return f"{user.id}:{stamp}"
