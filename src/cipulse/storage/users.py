"""Dashboard users, memberships and sign-in sessions.

Dashboard users, their memberships of organisations, and their sign-in sessions.

Emails arrive here already normalised (trimmed, lower case); sessions are found by the
SHA-256 of their token, never by the token itself."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cipulse.domain.model import Member, Membership, User
from cipulse.storage.clock import from_ms
from cipulse.storage.dialect import insert_for
from cipulse.storage.schema import memberships, organisations, sessions, users


@dataclass(frozen=True, slots=True)
class Credentials:
    """What signing in needs to know of a user."""

    user_id: str
    email: str
    password_hash: str
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A session row with its user and all the user's organisations (sorted by name), read
    in one query. ``org_id`` is the organisation the session looks at; the user may since
    have been removed from it."""

    user_id: str
    email: str
    org_id: str
    csrf_token: str
    expires_at_ms: int
    organisations: tuple[Membership, ...]


def insert_user(conn: Connection, *, email: str, password_hash: str, now_ms: int) -> str | None:
    """Create the user and return its id; ``None`` when the email is taken."""
    inserted = conn.execute(
        insert_for(conn)(users)
        .values(
            id=str(uuid.uuid4()), email=email, password_hash=password_hash, created_at_ms=now_ms
        )
        .on_conflict_do_nothing()
        .returning(users.c.id)
    ).first()
    return None if inserted is None else str(inserted.id)


def find_credentials(conn: Connection, email: str) -> Credentials | None:
    row = conn.execute(
        sa.select(users.c.id, users.c.email, users.c.password_hash, users.c.disabled_at_ms).where(
            users.c.email == email
        )
    ).first()
    if row is None:
        return None
    return Credentials(
        user_id=str(row.id),
        email=row.email,
        password_hash=row.password_hash,
        disabled=row.disabled_at_ms is not None,
    )


def has_users(conn: Connection) -> bool:
    return conn.execute(sa.select(sa.exists().select_from(users))).scalar_one()


def set_password_hash(conn: Connection, user_id: str, password_hash: str) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))


def touch_sign_in(conn: Connection, user_id: str, now_ms: int) -> None:
    conn.execute(users.update().where(users.c.id == user_id).values(last_sign_in_at_ms=now_ms))


def add_membership(conn: Connection, *, org_id: str, user_id: str, role: str, now_ms: int) -> bool:
    """Add the user to the organisation; ``False`` when they already belong to it."""
    inserted = conn.execute(
        insert_for(conn)(memberships)
        .values(org_id=org_id, user_id=user_id, role=role, created_at_ms=now_ms)
        .on_conflict_do_nothing()
        .returning(memberships.c.user_id)
    ).first()
    return inserted is not None


def memberships_of(conn: Connection, user_id: str) -> tuple[Membership, ...]:
    rows = conn.execute(
        sa.select(memberships.c.org_id, organisations.c.name, memberships.c.role)
        .join(organisations, organisations.c.id == memberships.c.org_id)
        .where(memberships.c.user_id == user_id)
        .order_by(organisations.c.name)
    )
    return tuple(Membership(str(row.org_id), row.name, row.role) for row in rows)


def list_users(conn: Connection) -> list[User]:
    """Every user with their organisations, by email."""
    rows = conn.execute(
        sa.select(
            users.c.id,
            users.c.email,
            users.c.created_at_ms,
            users.c.last_sign_in_at_ms,
            users.c.disabled_at_ms,
            memberships.c.org_id,
            organisations.c.name.label("org_name"),
            memberships.c.role,
        )
        .select_from(users)
        .outerjoin(memberships, memberships.c.user_id == users.c.id)
        .outerjoin(organisations, organisations.c.id == memberships.c.org_id)
        .order_by(users.c.email, organisations.c.name)
    )
    listed = []
    for _, group in itertools.groupby(rows, key=lambda row: row.id):
        user_rows = list(group)
        first = user_rows[0]
        created = from_ms(first.created_at_ms)
        assert created is not None
        listed.append(
            User(
                id=str(first.id),
                email=first.email,
                created_at=created,
                last_sign_in_at=from_ms(first.last_sign_in_at_ms),
                organisations=tuple(
                    Membership(str(row.org_id), row.org_name, row.role)
                    for row in user_rows
                    if row.org_id is not None
                ),
                disabled=first.disabled_at_ms is not None,
            )
        )
    return listed


def list_members(conn: Connection, org_id: str) -> list[Member]:
    """The organisation's users, by email."""
    elsewhere = memberships.alias("elsewhere")
    others = (
        sa.select(sa.func.count())
        .where(elsewhere.c.user_id == users.c.id, elsewhere.c.org_id != org_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(
            users.c.email,
            memberships.c.role,
            memberships.c.created_at_ms,
            users.c.last_sign_in_at_ms,
            users.c.disabled_at_ms,
            others.label("others"),
        )
        .join(users, users.c.id == memberships.c.user_id)
        .where(memberships.c.org_id == org_id)
        .order_by(users.c.email)
    )
    members = []
    for row in rows:
        created = from_ms(row.created_at_ms)
        assert created is not None
        members.append(
            Member(
                email=row.email,
                role=row.role,
                created_at=created,
                last_sign_in_at=from_ms(row.last_sign_in_at_ms),
                disabled=row.disabled_at_ms is not None,
                other_organisations=int(row.others),
            )
        )
    return members


def insert_session(
    conn: Connection,
    *,
    token_hash: str,
    user_id: str,
    org_id: str,
    csrf_token: str,
    now_ms: int,
    expires_at_ms: int,
) -> None:
    conn.execute(
        sessions.insert().values(
            token_hash=token_hash,
            user_id=user_id,
            org_id=org_id,
            csrf_token=csrf_token,
            created_at_ms=now_ms,
            expires_at_ms=expires_at_ms,
        )
    )


def find_session(conn: Connection, token_hash: str) -> StoredSession | None:
    """The session with its user and the user's organisations: one query, one row per
    organisation (a single row of NULLs when the user has none)."""
    rows = conn.execute(
        sa.select(
            sessions.c.user_id,
            sessions.c.org_id,
            sessions.c.csrf_token,
            sessions.c.expires_at_ms,
            users.c.email,
            memberships.c.org_id.label("member_org_id"),
            organisations.c.name.label("org_name"),
            memberships.c.role,
        )
        .select_from(sessions)
        .join(users, users.c.id == sessions.c.user_id)
        .outerjoin(memberships, memberships.c.user_id == sessions.c.user_id)
        .outerjoin(organisations, organisations.c.id == memberships.c.org_id)
        .where(sessions.c.token_hash == token_hash, users.c.disabled_at_ms.is_(None))
        .order_by(organisations.c.name)
    ).all()
    if not rows:
        return None
    first = rows[0]
    return StoredSession(
        user_id=str(first.user_id),
        email=first.email,
        org_id=str(first.org_id),
        csrf_token=first.csrf_token,
        expires_at_ms=first.expires_at_ms,
        organisations=tuple(
            Membership(str(row.member_org_id), row.org_name, row.role)
            for row in rows
            if row.member_org_id is not None
        ),
    )


def set_session_org(conn: Connection, token_hash: str, org_id: str) -> None:
    conn.execute(sessions.update().where(sessions.c.token_hash == token_hash).values(org_id=org_id))


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))


def delete_sessions_of(conn: Connection, user_id: str) -> int:
    return conn.execute(sessions.delete().where(sessions.c.user_id == user_id)).rowcount


def delete_expired_sessions(conn: Connection, now_ms: int) -> int:
    return conn.execute(sessions.delete().where(sessions.c.expires_at_ms <= now_ms)).rowcount


# --- Account management ----------------------------------------------------------------------


def set_disabled(conn: Connection, user_id: str, disabled_at_ms: int | None) -> None:
    """Disable the user (``disabled_at_ms``: when) and end their sessions, or enable them."""
    conn.execute(users.update().where(users.c.id == user_id).values(disabled_at_ms=disabled_at_ms))
    if disabled_at_ms is not None:
        delete_sessions_of(conn, user_id)


def delete_user(conn: Connection, user_id: str) -> None:
    """The user, their memberships and their sessions."""
    delete_sessions_of(conn, user_id)
    conn.execute(memberships.delete().where(memberships.c.user_id == user_id))
    conn.execute(users.delete().where(users.c.id == user_id))


def remove_membership(conn: Connection, org_id: str, user_id: str) -> bool:
    """Remove the user from the organisation; ``False`` when they were not in it."""
    removed = conn.execute(
        memberships.delete().where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
    ).rowcount
    return bool(removed)


def set_role(conn: Connection, org_id: str, user_id: str, role: str) -> bool:
    """Give the member this role; ``False`` when they are not a member."""
    changed = conn.execute(
        memberships.update()
        .where(memberships.c.org_id == org_id, memberships.c.user_id == user_id)
        .values(role=role)
    ).rowcount
    return bool(changed)


def admins_of(conn: Connection, org_id: str) -> set[str]:
    """The user ids of the organisation's admins who are not disabled."""
    query = (
        sa.select(memberships.c.user_id)
        .join(users, users.c.id == memberships.c.user_id)
        .where(
            memberships.c.org_id == org_id,
            memberships.c.role == "admin",
            users.c.disabled_at_ms.is_(None),
        )
    )
    return {str(user_id) for user_id in conn.execute(query).scalars()}


def organisations_of_email(conn: Connection, email: str) -> tuple[Membership, ...]:
    user = find_credentials(conn, email)
    return () if user is None else memberships_of(conn, user.user_id)
