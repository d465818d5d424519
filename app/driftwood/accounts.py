"""User accounts: creation, passwords (scrypt) and login with a lockout after failures.

Shared by the sign-up and login pages and by `driftwood create-user|reset-password`.
"""

import re
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from driftwood.models import User

USERNAME = re.compile(r"[A-Za-z0-9_.@+-]{1,150}")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # scrypt of a megabyte "password" is a denial of service


@cache
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so that a wrong username takes as long
    as a wrong password and the response time does not reveal which accounts exist. Made on
    first use, not at import: every process that imports the app (CLI, workers) would pay."""
    return generate_password_hash("driftwood-timing-equaliser", method="scrypt")


class AccountError(ValueError):
    """A username or password that cannot be used; str() says why, for the user."""


class AccountLocked(AccountError):
    def __init__(self, until: datetime) -> None:
        super().__init__("too many failed logins; try again in a few minutes")
        self.until = until


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"passwords can have at most {MAX_PASSWORD_LENGTH} characters")


def set_password(user: User, password: str) -> None:
    check_password_rules(password)
    user.password_hash = generate_password_hash(password, method="scrypt")
    user.failed_logins = 0
    user.locked_until = None


def check_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def get_user(session: Session, username: str) -> User | None:
    if "\x00" in username:  # no name holds one, and PostgreSQL refuses it as a parameter
        return None
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_user(session: Session, username: str, password: str) -> User:
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise AccountError("usernames are 1-150 letters, digits and . _ @ + -")
    if get_user(session, username) is not None:
        raise AccountError("that username is taken")
    user = User(username=username)
    set_password(user, password)
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # taken at the same moment by a concurrent sign-up
        raise AccountError("that username is taken") from None
    return user


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, lockout: timedelta
) -> User | None:
    """The user when the password is right; None when not. Raises AccountLocked while
    the account is locked after `max_failures` wrong passwords in a row."""
    user = get_user(session, username.strip())
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    now = datetime.now(UTC)
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(user.locked_until)
    if check_password_hash(user.password_hash, password):
        user.failed_logins, user.locked_until = 0, None
        return user
    user.failed_logins += 1
    if user.failed_logins >= max_failures:
        user.failed_logins, user.locked_until = 0, now + lockout
    return None
