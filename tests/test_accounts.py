"""Account rules that need no database."""

import pytest

from driftwood import accounts
from driftwood.models import User


@pytest.mark.parametrize("password", ["short", "x" * 2000])
def test_unusable_passwords_are_refused(password):
    with pytest.raises(accounts.AccountError):
        accounts.set_password(User(username="a"), password)


def test_passwords_are_stored_as_scrypt_hashes_and_unlock_the_account():
    user = User(username="a", failed_logins=3)
    accounts.set_password(user, "long enough")
    assert user.password_hash.startswith("scrypt:")
    assert accounts.check_password(user, "long enough")
    assert not accounts.check_password(user, "wrong one")
    assert (user.failed_logins, user.locked_until) == (0, None)


@pytest.mark.parametrize("name", ["alice", "a.b-c_d+e@x", "A" * 150])
def test_usernames_allowed(name):
    assert accounts.USERNAME.fullmatch(name)


@pytest.mark.parametrize("name", ["", "a b", "<script>", "A" * 151, "ä"])
def test_usernames_refused(name):
    assert not accounts.USERNAME.fullmatch(name)
