"""Dashboard passwords, hashed with argon2id.

Dashboard passwords: hashed with argon2id (argon2-cffi's defaults, RFC 9106's low-memory
profile), never stored or logged in clear.

Unlike API keys, which carry 190 random bits and are hashed with SHA-256, passwords are
chosen by people and can be guessed: a slow, memory-hard hash makes each guess expensive."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cipulse.errors import InvalidRequest

MIN_LENGTH = 8
MAX_LENGTH = 200

_hasher = PasswordHasher()


def checked_password(password: str) -> str:
    """The password if it is acceptable (8 to 200 characters, kept as typed)."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise InvalidRequest(
            f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters (got {len(password)})"
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than ours (rehash it at sign-in)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


#: A hash of no one's password, made with our parameters (a test checks they still match), so
#: that a sign-in with an unknown email verifies against it for as long as a real one takes.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$fuxb02z2q0EXKYtBrwasXQ$"
    "dkeCoPVfdWUwSpvVaewXLG8ZHPRhsWzdy3Vr966y9/Y"
)


def verify_nothing(password: str) -> None:
    """Spend the time a verification takes, for a sign-in with an unknown email: an answer
    as quick as a database lookup would tell which emails have an account."""
    verify_password(DUMMY_HASH, password)
