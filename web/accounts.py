"""Accounts: creating users, checking passwords, API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from storage.models import Department, Role, User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A user cannot be created or changed as asked."""


def create_user(
    db: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str,
    department_codes: Sequence[str] = (),
    phone: str | None = None,
) -> User:
    """Create a user; officers and callback staff must belong to at least one department."""
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"not an e-mail address: {email!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with e-mail {email} exists already")
    departments = list(db.scalars(select(Department).where(Department.code.in_(department_codes))))
    unknown = set(department_codes) - {d.code for d in departments}
    if unknown:
        raise AccountError("unknown department(s): " + ", ".join(sorted(unknown)))
    if role in (Role.OFFICER, Role.CALLBACK_STAFF) and not departments:
        raise AccountError("officers and callback staff need at least one department")
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
