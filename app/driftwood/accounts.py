"""User accounts: creation, passwords (scrypt) and login with a lockout after failures
(for names without an account too).

Shared by the sign-up and login pages and by `driftwood create-user|reset-password`.
"""

import hashlib
import re
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from driftwood.models import UnknownLogin, User

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


def _unknown_login(session: Session, name: str) -> UnknownLogin:
    """The failure count of a name without an account, made on its first failure."""
    key = hashlib.sha256(name.lower().encode("utf-8", "surrogatepass")).hexdigest()
    session.execute(insert(UnknownLogin).values(name_hash=key).on_conflict_do_nothing())
    return session.get_one(UnknownLogin, key)


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, lockout: timedelta
) -> User | None:
    """The user when the password is right; None when not. Raises AccountLocked while
    the name is locked after `max_failures` wrong passwords in a row.

    A name without an account is answered as a wrong password is, in every way: its
    failures are counted too and lock it just the same, and a password hash is checked
    all the same. Otherwise the lockout (or the time taken) tells which accounts exist."""
    name = username.strip()
    user = get_user(session, name)
    failures = user if user is not None else _unknown_login(session, name)
    now = datetime.now(UTC)
    if failures.locked_until is not None and failures.locked_until > now:
        raise AccountLocked(failures.locked_until)
    password_hash = user.password_hash if user is not None else _dummy_hash()
    if check_password_hash(password_hash, password) and user is not None:
        user.failed_logins, user.locked_until = 0, None
        return user
    failures.failed_logins += 1
    if failures.failed_logins >= max_failures:
        failures.failed_logins, failures.locked_until = 0, now + lockout
    return None
