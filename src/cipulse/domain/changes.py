"""The change a run attempt ran for: commit, pull request, author, event.

What an attempt was run for, as far as its source says: the commit (SHA, the first line of
its message, its author's name), the pull or merge request, and the kind of event that
started it. Every field is unknown (None) unless the source gives it; never an empty string.

Only the commit author's **name** is kept, never an e-mail address: the name is what people
look for in a run list, and an address is personal data cipulse has no use for
(docs/api.md, "cipulse extensions: commits, pull requests and authors")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit


class EventKind(StrEnum):
    """Why an attempt ran, the same words for every source (docs/api.md)."""

    PULL_REQUEST = "pull_request"
    MERGE_QUEUE = "merge_queue"
    TAG = "tag"
    SCHEDULE = "schedule"
    PUSH = "push"
    OTHER = "other"


#: GitHub's ``event`` of a workflow run → its kind (any other event is ``other``).
GITHUB_EVENTS = {
    "pull_request": EventKind.PULL_REQUEST,
    "pull_request_target": EventKind.PULL_REQUEST,
    "pull_request_review": EventKind.PULL_REQUEST,
    "pull_request_review_comment": EventKind.PULL_REQUEST,
    "merge_group": EventKind.MERGE_QUEUE,
    "schedule": EventKind.SCHEDULE,
    "push": EventKind.PUSH,
    "release": EventKind.TAG,
}

#: GitLab's pipeline ``source`` → its kind (any other source is ``other``). A merge request
#: pipeline on a merge train (its ref ends in ``/train``) is ``merge_queue``; a pipeline of
#: a tag (``tag: true``) is ``tag``.
GITLAB_SOURCES = {
    "merge_request_event": EventKind.PULL_REQUEST,
    "external_pull_request_event": EventKind.PULL_REQUEST,
    "schedule": EventKind.SCHEDULE,
    "push": EventKind.PUSH,
}

#: Every word a RunWatch client may send as ``event`` and be understood: the kinds
#: themselves, GitHub's events and GitLab's sources.
NAMED_EVENTS: dict[str, EventKind] = {
    **{kind.value: kind for kind in EventKind},
    **GITLAB_SOURCES,
    **GITHUB_EVENTS,
}


def github_event_kind(event: str | None) -> EventKind | None:
    if not event:
        return None
    return GITHUB_EVENTS.get(event, EventKind.OTHER)


def gitlab_event_kind(source: str | None, *, tag: bool | None, ref: str | None) -> EventKind | None:
    """The kind of a GitLab pipeline from its ``source``, ``tag`` and ``ref``."""
    if tag:
        return EventKind.TAG
    if not source:
        return None
    kind = GITLAB_SOURCES.get(source, EventKind.OTHER)
    if kind is EventKind.PULL_REQUEST and ref and ref.endswith("/train"):
        return EventKind.MERGE_QUEUE
    return kind


def named_event_kind(event: str | None) -> EventKind | None:
    """The kind of an event a client names (RunWatch ``event``): one it knows, else
    ``other``; None when it names none."""
    if not event:
        return None
    return NAMED_EVENTS.get(event.strip().lower(), EventKind.OTHER)


def known_event_kind(event: str | None) -> EventKind | None:
    """The kind of an event word when it is one cipulse knows (RunWatch ``triggered_by``
    often is GitHub's event or GitLab's source), else unknown (None)."""
    if not event:
        return None
    return NAMED_EVENTS.get(event.strip().lower())


#: How much of a commit message's first line is kept.
MAX_MESSAGE_LINE = 1000


def first_line(message: str | None) -> str | None:
    """A commit message's first line (its subject), without surrounding space, at most
    ``MAX_MESSAGE_LINE`` characters."""
    stripped = (message or "").strip()
    if not stripped:
        return None
    return stripped.splitlines()[0].strip()[:MAX_MESSAGE_LINE] or None


_HEX = frozenset("0123456789abcdef")
#: What a commit SHA is, said where one is refused.
SHA_FORM = "4 to 64 hexadecimal digits"


def is_sha(value: str) -> bool:
    """Whether ``value`` (lower case) is a commit SHA or its start: Git's SHA-1 has 40
    hexadecimal digits, SHA-256 64; a short SHA at least 4."""
    return 4 <= len(value) <= 64 and set(value) <= _HEX


def commit_sha(value: str | None) -> str | None:
    """A commit SHA as stored: lower case; empty, or anything but a SHA, is unknown."""
    found = text(value)
    return found.lower() if found is not None and is_sha(found.lower()) else None


def sha_warning(where: str, value: str | None) -> str | None:
    """The warning for a commit SHA sent that is none (stored as unknown), if it is not."""
    if text(value) is None or commit_sha(value) is not None:
        return None
    return f"{where}: {value!r} is not a commit SHA ({SHA_FORM}); stored as unknown"


def github_pull_request_page(
    api_url: str | None, number: int, repository_page: str | None
) -> str | None:
    """A GitHub pull request's page, from its API URL (``https://api.github.com/repos/o/r/
    pulls/2``, or GitHub Enterprise Server's ``https://host/api/v3/repos/…``): GitHub's
    workflow runs list no page. Else the page of ``number`` in ``repository_page``."""
    parts = urlsplit(api_url or "")
    segments = parts.path.strip("/").split("/")
    if segments[:2] == ["api", "v3"]:
        segments = segments[2:]
    if parts.hostname and len(segments) == 5 and segments[0] == "repos" and segments[3] == "pulls":
        host = "github.com" if parts.hostname == "api.github.com" else parts.hostname
        return f"https://{host}/{segments[1]}/{segments[2]}/pull/{number}"
    if repository_page:
        return f"{repository_page.rstrip('/')}/pull/{number}"
    return None


def text(value: str | None) -> str | None:
    """Text as stored: empty (or only spaces) is unknown."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


@dataclass(frozen=True, slots=True)
class Change:
    """The commit, pull request and event an attempt ran for (None: the source did not
    say). Its fields are the ``run_attempts`` columns of the same names."""

    commit_sha: str | None = None
    commit_message: str | None = None
    commit_author: str | None = None
    pull_request_number: int | None = None
    pull_request_title: str | None = None
    pull_request_url: str | None = None
    pull_request_source_branch: str | None = None
    pull_request_target_branch: str | None = None
    event_kind: EventKind | None = None

    def columns(self) -> dict[str, str | int | None]:
        """The ``run_attempts`` columns this change fills."""
        return {
            "commit_sha": self.commit_sha,
            "commit_message": self.commit_message,
            "commit_author": self.commit_author,
            "pull_request_number": self.pull_request_number,
            "pull_request_title": self.pull_request_title,
            "pull_request_url": self.pull_request_url,
            "pull_request_source_branch": self.pull_request_source_branch,
            "pull_request_target_branch": self.pull_request_target_branch,
            "event_kind": None if self.event_kind is None else self.event_kind.value,
        }


#: What an attempt whose source says nothing of its change carries.
NO_CHANGE = Change()
#: The columns a change fills, in ``Change``'s order.
CHANGE_COLUMNS = tuple(NO_CHANGE.columns())
