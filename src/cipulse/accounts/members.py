"""Members and accounts: roles, removal, disabling and deleting.

Managing members and user accounts: roles, removing someone from an organisation,
disabling, enabling and deleting accounts. The operator's CLI and an organisation's admins on
the settings page use the same functions; on the page (``acting`` given) an admin acts within
their organisation only:

- never on themselves (another admin can), so an organisation keeps an admin;
- disabling, enabling or deleting an account only when it belongs to no other organisation
  (other tenants' people are not theirs to lock out): removing it from this one is always
  possible.

Elsewhere an organisation's last admin cannot be removed or made a member: make someone else
admin first. A disabled user cannot sign in and their sessions end at once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from cipulse.accounts.service import AccountService
from cipulse.accounts.users import CreatedUser, UserService, checked_role, normalised_email
from cipulse.domain.model import Membership, Organisation, Session
from cipulse.errors import Conflict, Forbidden, NotFound
from cipulse.storage import users as store
from cipulse.storage.clock import now_ms
from cipulse.storage.database import Database
from cipulse.storage.users import Credentials


@dataclass(frozen=True, slots=True)
class AddedMember:
    """Who was added; ``password`` is the generated password of a new user, to show once."""

    created: CreatedUser
    password: str | None


@dataclass(frozen=True, slots=True)
class AccountChange:
    """An account disabled or deleted, and the organisations it leaves without an admin."""

    email: str
    without_admin: list[str]


class MemberService:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.users = UserService(database)

    def _organisation(self, org_name: str) -> Organisation:
        return AccountService(self.database).organisation(org_name)

    def _user(self, email: str) -> Credentials:
        email = normalised_email(email)
        with self.database.read() as conn:
            user = store.find_credentials(conn, email)
        if user is None:
            raise NotFound(f"email: no user {email!r} (see `cipulse users list`)")
        return user

    def _member(self, org: Organisation, email: str) -> tuple[Credentials, Membership]:
        user = self._user(email)
        with self.database.read() as conn:
            memberships = store.memberships_of(conn, user.user_id)
        membership = next((m for m in memberships if m.org_id == org.id), None)
        if membership is None:
            raise NotFound(f"email: {user.email} is not a member of {org.name!r}")
        return user, membership

    def _keeps_an_admin(self, org: Organisation, user: Credentials) -> None:
        with self.database.read() as conn:
            admins = store.admins_of(conn, org.id)
        if admins == {user.user_id}:
            raise Conflict(
                f"{user.email} is the last admin of {org.name!r}: make someone else admin first"
            )

    @staticmethod
    def _not_self(acting: Session | None, user: Credentials, what: str) -> None:
        if acting is not None and acting.user_id == user.user_id:
            raise Forbidden(f"email: you cannot {what} your own account here; another admin can")

    def _own_account(self, acting: Session | None, user: Credentials, what: str) -> None:
        """On the page: the account must belong to the acting admin's organisation alone."""
        if acting is None:
            return
        self._not_self(acting, user, what)
        with self.database.read() as conn:
            memberships = store.memberships_of(conn, user.user_id)
        if [m.org_id for m in memberships] != [acting.org_id]:
            raise Forbidden(
                f"email: {user.email} belongs to other organisations too: remove them from "
                f"this one instead (an operator can {what} the account: "
                f"`cipulse users {what} {user.email}`)"
            )

    # --- Members ------------------------------------------------------------------------

    def add(self, org_name: str, email: str, role: str) -> AddedMember:
        """Add an existing user to the organisation, or create one with a generated
        password (returned, to show once)."""
        password = None if self.users.exists(email) else secrets.token_urlsafe(12)
        created = self.users.create_user(email, org_name, password, role)
        return AddedMember(created, password)

    def set_role(
        self, org_name: str, email: str, role: str, acting: Session | None = None
    ) -> Membership:
        org = self._organisation(org_name)
        role = checked_role(role)
        user, membership = self._member(org, email)
        self._not_self(acting, user, "change the role of")
        if membership.role == "admin" and role != "admin":
            self._keeps_an_admin(org, user)
        with self.database.write() as conn:
            store.set_role(conn, org.id, user.user_id, role)
        return Membership(org.id, org.name, role)

    def remove(self, org_name: str, email: str, acting: Session | None = None) -> str:
        """Remove the user from the organisation (their account stays); returns the email."""
        org = self._organisation(org_name)
        user, membership = self._member(org, email)
        self._not_self(acting, user, "remove")
        if membership.role == "admin":
            self._keeps_an_admin(org, user)
        with self.database.write() as conn:
            store.remove_membership(conn, org.id, user.user_id)
        return user.email

    # --- Accounts -----------------------------------------------------------------------

    def disable(self, email: str, acting: Session | None = None) -> AccountChange:
        """The user cannot sign in any more; their sessions end now."""
        user = self._user(email)
        self._own_account(acting, user, "disable")
        with self.database.write() as conn:
            store.set_disabled(conn, user.user_id, now_ms())
        return AccountChange(user.email, self._left_without_admin(user))

    def enable(self, email: str, acting: Session | None = None) -> str:
        user = self._user(email)
        self._own_account(acting, user, "enable")
        with self.database.write() as conn:
            store.set_disabled(conn, user.user_id, None)
        return user.email

    def delete(self, email: str, acting: Session | None = None) -> AccountChange:
        """The user, their memberships and their sessions, for good."""
        user = self._user(email)
        self._own_account(acting, user, "delete")
        without_admin = self._left_without_admin(user)
        with self.database.write() as conn:
            store.delete_user(conn, user.user_id)
        return AccountChange(user.email, without_admin)

    def _left_without_admin(self, user: Credentials) -> list[str]:
        """The organisations where the user is the only admin still able to sign in."""
        with self.database.read() as conn:
            return [
                m.org_name
                for m in store.memberships_of(conn, user.user_id)
                if m.role == "admin" and store.admins_of(conn, m.org_id) <= {user.user_id}
            ]
