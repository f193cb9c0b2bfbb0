"""Dashboard users: creation, memberships, signing in, sessions.

Dashboard users: creating them and adding them to organisations, passwords, signing in and
out, and the session every dashboard request looks up.

A session is a row keyed by the SHA-256 of a random token; the token itself lives only in the
browser's cookie. Each session carries its own CSRF token, and the organisation being looked
at, which the user may switch between their organisations."""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from dataclasses import dataclass

from cipulse.accounts import passwords
from cipulse.accounts.service import AccountService
from cipulse.domain.model import ROLES, Member, Session, User
from cipulse.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from cipulse.storage import users as store
from cipulse.storage.clock import now_ms as clock_now_ms
from cipulse.storage.database import Database

__all__ = [
    "CreatedUser",
    "Member",
    "Session",
    "SignedIn",
    "User",
    "UserService",
    "no_such_user",
    "normalised_email",
]

MAX_EMAIL_LENGTH = 320
DAY_MS = 86_400_000
WRONG_CREDENTIALS = "email or password is incorrect"


@dataclass(frozen=True, slots=True)
class CreatedUser:
    email: str
    org_name: str
    role: str
    new_user: bool


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: ``token`` goes into the cookie and is not stored anywhere else."""

    token: str
    session: Session


def normalised_email(email: str) -> str:
    """The email as stored: trimmed, lower case, if it looks like an email at all."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if (
        not at
        or not local
        or not domain
        or "@" in domain
        or len(email) > MAX_EMAIL_LENGTH
        or any(c.isspace() for c in email)
    ):
        raise InvalidRequest(
            f"email: must be an email address such as ada@example.org, "
            f"at most {MAX_EMAIL_LENGTH} characters"
        )
    return email


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRequest(f"role: must be {' or '.join(ROLES)} (got {role!r})")
    return role


def no_such_user(email: str) -> NotFound:
    return NotFound(f"email: no user {email.strip().lower()!r} (see `cipulse users list`)")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserService:
    def __init__(self, database: Database, session_days: int = 14) -> None:
        self.database = database
        self.session_ms = session_days * DAY_MS

    # --- Administration (the CLI) -------------------------------------------------------

    def create_user(
        self, email: str, org_name: str, password: str | None, role: str = "admin"
    ) -> CreatedUser:
        """Create a user with a password in an organisation, or add an existing user (then
        without a password: they keep theirs) to another organisation."""
        email = normalised_email(email)
        role = checked_role(role)
        organisation = AccountService(self.database).organisation(org_name)
        with self.database.read() as conn:
            existing = store.find_credentials(conn, email)
        password_hash = None
        if existing is None:
            if password is None:
                raise InvalidRequest(f"password: required for a new user ({email})")
            password_hash = passwords.hash_password(passwords.checked_password(password))
        elif password is not None:
            raise InvalidRequest(
                f"password: {email} already has one; to change it use "
                f"`cipulse users set-password {email}`"
            )
        now = clock_now_ms()
        with self.database.write() as conn:
            if existing is None:
                assert password_hash is not None
                user_id = store.insert_user(
                    conn, email=email, password_hash=password_hash, now_ms=now
                )
                if user_id is None:
                    raise Conflict(f"email: {email} was created meanwhile; try again")
            else:
                user_id = existing.user_id
            added = store.add_membership(
                conn, org_id=organisation.id, user_id=user_id, role=role, now_ms=now
            )
        if not added:
            raise Conflict(f"{email} is already a member of {organisation.name!r}")
        return CreatedUser(
            email=email, org_name=organisation.name, role=role, new_user=existing is None
        )

    def exists(self, email: str) -> bool:
        """Whether a user has this email (the CLI asks for a password only for a new one)."""
        with self.database.read() as conn:
            return store.find_credentials(conn, normalised_email(email)) is not None

    def set_password(self, email: str, password: str) -> None:
        """Change the user's password and sign them out everywhere."""
        email = normalised_email(email)
        password_hash = passwords.hash_password(passwords.checked_password(password))
        with self.database.write() as conn:
            user = store.find_credentials(conn, email)
            if user is None:
                raise no_such_user(email)
            store.set_password_hash(conn, user.user_id, password_hash)
            store.delete_sessions_of(conn, user.user_id)

    def users(self) -> list[User]:
        """Every user with their organisations and roles, by email."""
        with self.database.read() as conn:
            return store.list_users(conn)

    def has_users(self) -> bool:
        with self.database.read() as conn:
            return store.has_users(conn)

    def members(self, org_id: str) -> list[Member]:
        """The organisation's users, by email."""
        with self.database.read() as conn:
            return store.list_members(conn, org_id)

    # --- Signing in (the dashboard) -----------------------------------------------------

    def sign_in(self, email: str, password: str, now_ms: int | None = None) -> SignedIn:
        """A new session for the user, looking at their first organisation by name. A wrong
        email and a wrong password get the same answer in the same time."""
        now = clock_now_ms() if now_ms is None else now_ms
        user = self._verified(email, password)
        rehashed = (
            passwords.hash_password(password)
            if passwords.needs_rehash(user.password_hash)
            else None
        )
        token = secrets.token_urlsafe(32)
        csrf_token = secrets.token_urlsafe(32)
        expires_at_ms = now + self.session_ms
        with self.database.write() as conn:
            organisations = store.memberships_of(conn, user.user_id)
            if not organisations:
                raise Forbidden(
                    f"{user.email} is not a member of any organisation; ask an administrator "
                    "to add you (cipulse users create EMAIL --org NAME)"
                )
            store.delete_expired_sessions(conn, now)
            store.insert_session(
                conn,
                token_hash=token_hash(token),
                user_id=user.user_id,
                org_id=organisations[0].org_id,
                csrf_token=csrf_token,
                now_ms=now,
                expires_at_ms=expires_at_ms,
            )
            store.touch_sign_in(conn, user.user_id, now)
            if rehashed is not None:
                store.set_password_hash(conn, user.user_id, rehashed)
        current = organisations[0]
        session = Session(
            user_id=user.user_id,
            email=user.email,
            org_id=current.org_id,
            org_name=current.org_name,
            role=current.role,
            csrf_token=csrf_token,
            expires_at_ms=expires_at_ms,
            organisations=organisations,
        )
        return SignedIn(token=token, session=session)

    def _verified(self, email: str, password: str) -> store.Credentials:
        """The user whose email and password these are, and who is enabled. A wrong email
        and a wrong password get the same answer in the same time."""
        try:
            email = normalised_email(email)
        except InvalidRequest:
            email = ""
        with self.database.read() as conn:
            user = store.find_credentials(conn, email) if email else None
        if user is None:
            passwords.verify_nothing(password)
            raise Unauthenticated(WRONG_CREDENTIALS)
        if not passwords.verify_password(user.password_hash, password):
            raise Unauthenticated(WRONG_CREDENTIALS)
        if user.disabled:  # told only to whoever knows the password
            raise Forbidden(f"{user.email} is disabled; ask an administrator to enable it")
        return user

    def session(self, token: str, now_ms: int | None = None) -> Session | None:
        """The session of a cookie's token; ``None`` when it is missing, unknown or expired
        (an expired one is deleted), or its user belongs to no organisation any more. One
        query: every dashboard request asks."""
        if not token:
            return None
        now = clock_now_ms() if now_ms is None else now_ms
        hashed = token_hash(token)
        with self.database.read() as conn:
            stored = store.find_session(conn, hashed)
        if stored is None:
            return None
        if stored.expires_at_ms <= now:
            with self.database.write() as conn:
                store.delete_session(conn, hashed)
            return None
        # The user may have been removed from the organisation the session looked at.
        current = next(
            (m for m in stored.organisations if m.org_id == stored.org_id),
            stored.organisations[0] if stored.organisations else None,
        )
        if current is None:
            return None
        return Session(
            user_id=stored.user_id,
            email=stored.email,
            org_id=current.org_id,
            org_name=current.org_name,
            role=current.role,
            csrf_token=stored.csrf_token,
            expires_at_ms=stored.expires_at_ms,
            organisations=stored.organisations,
        )

    def switch_organisation(self, token: str, org_name: str) -> Session:
        """Look at another of the user's organisations from now on. Whether an organisation
        the user does not belong to exists is not revealed."""
        session = self.session(token)
        if session is None:
            raise Unauthenticated("not signed in, or the sign-in has expired")
        target = next((m for m in session.organisations if m.org_name == org_name), None)
        if target is None:
            raise NotFound("org: not one of your organisations")
        with self.database.write() as conn:
            store.set_session_org(conn, token_hash(token), target.org_id)
        return dataclasses.replace(
            session, org_id=target.org_id, org_name=target.org_name, role=target.role
        )

    def sign_out(self, token: str) -> None:
        if token:
            with self.database.write() as conn:
                store.delete_session(conn, token_hash(token))
