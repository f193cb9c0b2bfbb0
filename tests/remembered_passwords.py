"""argon2id as the server uses it, remembering what it worked out, for the tests' process.

A hash or a verification costs about 0.1-0.2 s of CPU (64 MiB, 3 passes, by design), and the
suite signs users up and in some 500 times with a handful of passwords: about a minute of
CPU on two cores. In the tests' own process, ``install()`` puts in a hasher with the same
parameters that hashes each password once and verifies each (hash, password) pair once.
Every hash it gives is a real argon2id hash of that password, and every answer is the one
argon2 gave; only the salt is shared by users who chose the same password. Servers the tests
start as subprocesses hash as in production."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from cipulse.accounts import passwords


class RememberingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self._hashes: dict[str | bytes, str] = {}
        self._verified: dict[tuple[str | bytes, str | bytes], bool] = {}

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        if salt is not None:
            return super().hash(password, salt=salt)
        if password not in self._hashes:
            self._hashes[password] = super().hash(password)
        return self._hashes[password]

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # type: ignore[override]
        key = (hash, password)
        if key not in self._verified:
            try:
                self._verified[key] = super().verify(hash, password)
            except VerifyMismatchError:
                self._verified[key] = False
        if not self._verified[key]:
            raise VerifyMismatchError("The password does not match the supplied hash")
        return True


def install() -> None:
    passwords._hasher = RememberingHasher()
