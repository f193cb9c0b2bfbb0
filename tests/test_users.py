"""Dashboard users and sessions: the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from cipulse.accounts import passwords
from cipulse.accounts.service import BOOTSTRAP_EMAIL, AccountService
from cipulse.accounts.users import UserService
from cipulse.domain.model import Membership
from cipulse.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from cipulse.settings import Settings
from cipulse.storage import users as store
from cipulse.storage.clock import from_ms
from cipulse.storage.database import Database
from cipulse.storage.schema import memberships
from tests.conftest import count, rows

PASSWORD = "correct horse battery"
DAY_MS = 86_400_000
NOW = 1_750_000_000_000
REAL_HASHER = passwords._hasher


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash with the real parameters takes a fifth of a second; tests of what is done with
    hashes use tiny ones (the real parameters are tested on their own)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)


@pytest.fixture
def users(database: Database, accounts: AccountService) -> UserService:
    for name in ("acme", "globex", "initech"):
        accounts.create_organisation(name)
    return UserService(database)


def org_id(accounts: AccountService, name: str) -> str:
    return accounts.organisation(name).id


# --- Creating users ---------------------------------------------------------------------------


def test_create_a_user_then_add_them_to_a_second_organisation(users: UserService) -> None:
    created = users.create_user("  Ada@Example.ORG ", "globex", PASSWORD)
    assert (created.email, created.org_name, created.role, created.new_user) == (
        "ada@example.org",
        "globex",
        "admin",
        True,
    )
    added = users.create_user("ada@example.org", "acme", None, role="member")
    assert (added.org_name, added.role, added.new_user) == ("acme", "member", False)
    (user,) = users.users()
    assert user.email == "ada@example.org"
    assert [(m.org_name, m.role) for m in user.organisations] == [
        ("acme", "member"),
        ("globex", "admin"),
    ]
    assert user.last_sign_in_at is None


def test_an_existing_user_keeps_their_password(users: UserService) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    with pytest.raises(InvalidRequest, match=r"^password: .*cipulse users set-password"):
        users.create_user("ada@example.org", "globex", "another password")
    assert [m.org_name for m in users.users()[0].organisations] == ["acme"]


def test_a_member_cannot_be_added_twice(users: UserService) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    with pytest.raises(Conflict, match="already a member of 'acme'"):
        users.create_user("ADA@example.org", "acme", None, role="member")


def test_a_new_user_needs_a_password(users: UserService, database: Database) -> None:
    with pytest.raises(InvalidRequest, match=r"^password: required"):
        users.create_user("ada@example.org", "acme", None)
    assert count(database, "users") == 0


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.org",
        "ada@b@example.org",
        "a da@example.org",
        "a" * 310 + "@example.org",
    ],
)
def test_an_email_must_look_like_one(users: UserService, email: str) -> None:
    with pytest.raises(InvalidRequest, match=r"^email: must be an email address"):
        users.create_user(email, "acme", PASSWORD)


@pytest.mark.parametrize("password", ["", "7 chars", "x" * 201])
def test_a_password_has_8_to_200_characters(
    users: UserService, database: Database, password: str
) -> None:
    with pytest.raises(InvalidRequest, match=r"^password: must be 8 to 200 characters"):
        users.create_user("ada@example.org", "acme", password)
    assert count(database, "users") == 0


def test_passwords_of_8_and_200_characters_are_fine(users: UserService) -> None:
    users.create_user("ada@example.org", "acme", "x" * 8)
    users.create_user("bob@example.org", "acme", "x" * 200)
    assert users.sign_in("bob@example.org", "x" * 200).session.email == "bob@example.org"


def test_a_role_is_admin_or_member(users: UserService) -> None:
    with pytest.raises(InvalidRequest, match=r"^role: must be admin or member"):
        users.create_user("ada@example.org", "acme", PASSWORD, role="owner")


def test_an_unknown_organisation_is_named(users: UserService) -> None:
    with pytest.raises(NotFound, match=r"^org: no organisation named 'nope'"):
        users.create_user("ada@example.org", "nope", PASSWORD)


def test_has_users(users: UserService) -> None:
    assert not users.has_users()
    users.create_user("ada@example.org", "acme", PASSWORD)
    assert users.has_users()


# --- Signing in -------------------------------------------------------------------------------


def test_sign_in_opens_a_session_on_the_first_organisation_by_name(
    users: UserService, accounts: AccountService, database: Database
) -> None:
    users.create_user("ada@example.org", "globex", PASSWORD)
    users.create_user("ada@example.org", "acme", None, role="member")
    signed = users.sign_in(" ADA@example.org", PASSWORD, now_ms=NOW)
    session = signed.session
    assert (session.email, session.org_name, session.role) == ("ada@example.org", "acme", "member")
    assert session.org_id == org_id(accounts, "acme")
    assert session.expires_at_ms == NOW + 14 * DAY_MS
    assert session.organisations == (
        Membership(org_id(accounts, "acme"), "acme", "member"),
        Membership(org_id(accounts, "globex"), "globex", "admin"),
    )
    assert len(signed.token) >= 43 and len(session.csrf_token) >= 43
    assert signed.token != session.csrf_token
    assert users.session(signed.token, now_ms=NOW + 1) == session
    assert rows(database, "users")[0]["last_sign_in_at_ms"] == NOW


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.org", "wrong password"), ("eve@example.org", PASSWORD), ("not an email", "x")],
)
def test_a_wrong_email_or_password_gets_one_answer(
    users: UserService, database: Database, email: str, password: str
) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    with pytest.raises(Unauthenticated) as raised:
        users.sign_in(email, password)
    assert raised.value.message == "email or password is incorrect"
    assert count(database, "sessions") == 0
    assert rows(database, "users")[0]["last_sign_in_at_ms"] is None


def test_an_unknown_email_costs_a_password_verification(
    users: UserService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """So that the time of the answer does not tell which emails have an account."""
    users.create_user("ada@example.org", "acme", PASSWORD)
    verified: list[str] = []
    real = passwords.verify_password

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", counting)
    for email in ("eve@example.org", "ada@example.org"):
        with pytest.raises(Unauthenticated):
            users.sign_in(email, "wrong password")
    assert verified[0] == passwords.DUMMY_HASH
    assert verified[1].startswith("$argon2id$")
    assert len(verified) == 2


def test_real_hashes_are_argon2id_and_the_dummy_costs_as_much() -> None:
    assert REAL_HASHER.type.name == "ID"
    assert not REAL_HASHER.check_needs_rehash(passwords.DUMMY_HASH)
    assert not passwords.verify_password(passwords.DUMMY_HASH, PASSWORD)


def test_a_user_without_an_organisation_may_not_sign_in(
    users: UserService, database: Database
) -> None:
    with database.write() as conn:
        store.insert_user(
            conn,
            email="ada@example.org",
            password_hash=passwords.hash_password(PASSWORD),
            now_ms=NOW,
        )
    with pytest.raises(Unauthenticated):
        users.sign_in("ada@example.org", "wrong password")
    with pytest.raises(Forbidden, match="not a member of any organisation"):
        users.sign_in("ada@example.org", PASSWORD)
    assert count(database, "sessions") == 0


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(
    users: UserService, database: Database
) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    (user,) = rows(database, "users")
    weak = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash(PASSWORD)
    with database.write() as conn:
        store.set_password_hash(conn, user["id"], weak)
    users.sign_in("ada@example.org", PASSWORD)
    stored = rows(database, "users")[0]["password_hash"]
    assert stored != weak and not passwords.needs_rehash(stored)
    users.sign_in("ada@example.org", PASSWORD)


def test_secrets_are_stored_only_as_hashes(users: UserService, database: Database) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    signed = users.sign_in("ada@example.org", PASSWORD)
    (user,) = rows(database, "users")
    assert user["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(user)
    (session,) = rows(database, "sessions")
    assert session["token_hash"] == hashlib.sha256(signed.token.encode()).hexdigest()
    assert signed.token not in str(session)
    assert session["csrf_token"] == signed.session.csrf_token


# --- Sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "unknown", "x" * 500])
def test_no_session_for_a_missing_or_unknown_token(users: UserService, token: str) -> None:
    assert users.session(token) is None


def test_a_session_expires(database: Database, accounts: AccountService) -> None:
    accounts.create_organisation("acme")
    users = UserService(database, session_days=2)
    users.create_user("ada@example.org", "acme", PASSWORD)
    signed = users.sign_in("ada@example.org", PASSWORD, now_ms=NOW)
    assert signed.session.expires_at_ms == NOW + 2 * DAY_MS
    assert users.session(signed.token, now_ms=NOW + 2 * DAY_MS - 1) is not None
    assert users.session(signed.token, now_ms=NOW + 2 * DAY_MS) is None
    assert count(database, "sessions") == 0  # deleted on sight


def test_signing_in_deletes_expired_sessions(users: UserService, database: Database) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    old = users.sign_in("ada@example.org", PASSWORD, now_ms=NOW)
    new = users.sign_in("ada@example.org", PASSWORD, now_ms=NOW + 15 * DAY_MS)
    assert [s["token_hash"] for s in rows(database, "sessions")] == [
        hashlib.sha256(new.token.encode()).hexdigest()
    ]
    assert users.session(old.token, now_ms=NOW + 15 * DAY_MS) is None


def test_switch_organisation(users: UserService, accounts: AccountService) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    users.create_user("ada@example.org", "globex", None, role="member")
    token = users.sign_in("ada@example.org", PASSWORD).token
    switched = users.switch_organisation(token, "globex")
    assert (switched.org_id, switched.org_name, switched.role) == (
        org_id(accounts, "globex"),
        "globex",
        "member",
    )
    assert users.session(token) == switched
    back = users.switch_organisation(token, "acme")
    assert (back.org_name, back.role) == ("acme", "admin")


@pytest.mark.parametrize("org", ["initech", "nope", "ACME"])
def test_switching_to_an_organisation_of_others_reveals_nothing(
    users: UserService, org: str
) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    token = users.sign_in("ada@example.org", PASSWORD).token
    with pytest.raises(NotFound) as raised:
        users.switch_organisation(token, org)
    assert raised.value.message == "org: not one of your organisations"
    session = users.session(token)
    assert session is not None and session.org_name == "acme"


def test_switching_needs_a_session(users: UserService) -> None:
    with pytest.raises(Unauthenticated):
        users.switch_organisation("unknown", "acme")


def test_a_session_follows_its_user_out_of_an_organisation(
    users: UserService, accounts: AccountService, database: Database
) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    users.create_user("ada@example.org", "globex", None, role="member")
    token = users.sign_in("ada@example.org", PASSWORD).token
    for name, falls_back_to in (("acme", "globex"), ("globex", None)):
        with database.write() as conn:
            conn.execute(memberships.delete().where(memberships.c.org_id == org_id(accounts, name)))
        session = users.session(token)
        if falls_back_to is None:
            assert session is None
        else:
            assert session is not None
            assert (session.org_name, session.role) == (falls_back_to, "member")
            assert [m.org_name for m in session.organisations] == [falls_back_to]


def test_sign_out_is_idempotent(users: UserService, database: Database) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    token = users.sign_in("ada@example.org", PASSWORD).token
    other = users.sign_in("ada@example.org", PASSWORD).token
    for _ in range(2):
        users.sign_out(token)
    users.sign_out("")
    assert users.session(token) is None
    assert users.session(other) is not None
    assert count(database, "sessions") == 1


def test_a_session_lookup_is_one_query(users: UserService, database: Database) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    users.create_user("ada@example.org", "globex", None)
    token = users.sign_in("ada@example.org", PASSWORD).token
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    for engine in {database.engine, database._reader}:
        sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert users.session(token) is not None
    finally:
        for engine in {database.engine, database._reader}:
            sa.event.remove(engine, "before_cursor_execute", record)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


# --- Passwords --------------------------------------------------------------------------------


def test_set_password_signs_out_everywhere(users: UserService, database: Database) -> None:
    users.create_user("ada@example.org", "acme", PASSWORD)
    users.create_user("bob@example.org", "acme", PASSWORD)
    tokens = [users.sign_in("ada@example.org", PASSWORD).token for _ in range(2)]
    bob = users.sign_in("bob@example.org", PASSWORD).token
    users.set_password("Ada@Example.org", "a new password")
    assert [users.session(token) for token in tokens] == [None, None]
    assert users.session(bob) is not None
    with pytest.raises(Unauthenticated):
        users.sign_in("ada@example.org", PASSWORD)
    assert users.sign_in("ada@example.org", "a new password").session.email == "ada@example.org"
    assert "a new password" not in str(rows(database, "users"))


def test_set_password_checks_user_and_password(users: UserService) -> None:
    with pytest.raises(NotFound, match=r"^email: no user 'eve@example.org'"):
        users.set_password("eve@example.org", PASSWORD)
    users.create_user("ada@example.org", "acme", PASSWORD)
    with pytest.raises(InvalidRequest, match=r"^password: must be 8 to 200"):
        users.set_password("ada@example.org", "short")
    users.sign_in("ada@example.org", PASSWORD)


# --- Members ----------------------------------------------------------------------------------


def test_members_of_an_organisation(users: UserService, accounts: AccountService) -> None:
    users.create_user("bob@example.org", "acme", PASSWORD, role="member")
    users.create_user("ada@example.org", "globex", PASSWORD)
    users.create_user("ada@example.org", "acme", None)
    users.create_user("eve@example.org", "globex", PASSWORD)
    users.sign_in("bob@example.org", PASSWORD, now_ms=NOW)
    members = users.members(org_id(accounts, "acme"))
    assert [(m.email, m.role) for m in members] == [
        ("ada@example.org", "admin"),
        ("bob@example.org", "member"),
    ]
    assert members[0].last_sign_in_at is None
    assert members[1].last_sign_in_at == from_ms(NOW)
    assert all(m.created_at is not None for m in members)
    assert users.members(org_id(accounts, "initech")) == []


# --- First start ------------------------------------------------------------------------------


def test_the_first_start_creates_a_dashboard_admin(
    database: Database, accounts: AccountService
) -> None:
    first = accounts.bootstrap("default")
    assert first is not None and first.password is not None
    assert first.email == BOOTSTRAP_EMAIL == "admin@cipulse.local"
    assert len(first.password) >= 16
    session = UserService(database).sign_in(BOOTSTRAP_EMAIL, first.password).session
    assert (session.org_name, session.role) == ("default", "admin")
    assert accounts.bootstrap("default") is None
    assert count(database, "users") == 1


# --- Settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "secure_cookies", "secure"),
    [
        ("", "auto", False),
        ("http://ci.example.org", "auto", False),
        ("https://ci.example.org", "auto", True),
        ("HTTPS://ci.example.org", "auto", True),
        ("", "always", True),
        ("https://ci.example.org", "never", False),
    ],
)
def test_cookie_secure(public_url: str, secure_cookies: str, secure: bool) -> None:
    settings = Settings(public_url=public_url, secure_cookies=secure_cookies)  # type: ignore[arg-type]
    assert settings.cookie_secure is secure


def test_session_settings_are_validated() -> None:
    from pydantic import ValidationError

    assert Settings().session_days == 14
    with pytest.raises(ValidationError, match="session_days"):
        Settings(session_days=0)
    with pytest.raises(ValidationError, match="secure_cookies"):
        Settings(secure_cookies="sometimes")  # type: ignore[arg-type]


def test_failed_sign_ins_are_throttled_per_address() -> None:
    from cipulse.accounts.throttle import FailureThrottle

    now = [1000.0]
    throttle = FailureThrottle(limit=3, window_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        assert throttle.wait_seconds("ada@example.com") == 0
        throttle.failed("ada@example.com")
        now[0] += 1
    assert throttle.wait_seconds("ada@example.com") == 57  # the first failure ages out
    assert throttle.wait_seconds("bob@example.com") == 0
    now[0] += 57
    assert throttle.wait_seconds("ada@example.com") == 0
    throttle.failed("ada@example.com")
    throttle.succeeded("ada@example.com")
    assert throttle.wait_seconds("ada@example.com") == 0
