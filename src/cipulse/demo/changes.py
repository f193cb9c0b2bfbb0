"""The commits, pull requests and events the demo's runs are for.

The change each demo run is for: its commit (SHA, message, author), its pull request and the
kind of event. A pull request lives as long as its branch (some days) and gets a few pushes,
each a head commit with runs of its own; the default branch gets a commit per push, some
pipelines of a repository running on the same one; nightly runs build the day's head.

Facts that must agree between runs (a pull request's number and title, a push's SHA) derive
from hashes of what the runs share (repository, branch, push), so chunks generated apart
agree. The few draws (reruns, tag runs, who wrote the nightly's head commit) come from a
random source of their own per chunk: the draws that shape the runs are left as they were."""

from __future__ import annotations

import functools
import hashlib
import zlib
from bisect import bisect_right
from dataclasses import replace
from random import Random

from cipulse.demo import blueprints
from cipulse.demo.catalog import TOPICS
from cipulse.demo.layout import Layout, PipelineTemplate
from cipulse.domain.changes import Change, EventKind, named_event_kind

#: Chance that a default-branch run is for the commit the repository's previous one was for
#: (another pipeline of the same push, or a manual rerun).
SAME_COMMIT_ON_MAIN = 0.15
#: Chance that a deploy run on the default branch is for a release tag.
TAG_SHARE_OF_DEPLOYS = 0.25
#: A pull request gets one to this many pushes over its life; a dependency bump one or two.
MAX_PUSHES = 6
MAX_BOT_PUSHES = 2
#: Pull request numbers of a repository start somewhere below this (older repositories).
PULL_REQUEST_NUMBER_SPREAD = 900
#: First lines of the commits pushed to a pull request after its first.
FOLLOW_UPS = (
    "Address review comments",
    "Fix failing tests",
    "Apply suggestions from code review",
    "Add tests",
    "Fix lint",
    "Handle empty input",
    "Rename for clarity",
    "Update snapshots",
    "Bump lockfile",
    "Simplify error handling",
)
_BOTS = ("[bot]", "renovate")
DEFAULT_BRANCH = "main"


def topic_of(ticket: int) -> str:
    """The topic of the branches numbered ``ticket``."""
    return TOPICS[ticket * 7 % len(TOPICS)]


def sentence(topic: str) -> str:
    return topic.replace("-", " ").capitalize()


@functools.cache
def author_name(actor: str) -> str:
    """A person's name as a commit gives it (``amara-okafor`` → ``Amara Okafor``); a bot's
    account as it is."""
    if any(bot in actor for bot in _BOTS):
        return actor
    return " ".join(part.capitalize() for part in actor.split("-"))


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def _hash(text: str) -> int:
    return zlib.crc32(text.encode())


class ChangeMaker:
    """The changes of one chunk's runs (``seed``, ``index``: the chunk's)."""

    def __init__(self, seed: int, index: int, layout: Layout, branch_periods: int) -> None:
        self.seed = seed
        self.rng = Random(f"cipulse-demo:{seed}:changes:{index}")
        self.branch_periods = branch_periods
        ordinals: dict[str, int] = {}
        self.ordinal: dict[str, int] = {}
        for template in layout.pipelines:
            repository = template.repository.full_name
            self.ordinal[template.pipeline.key + repository] = ordinals.get(repository, 0)
            ordinals[repository] = ordinals.get(repository, 0) + 1
        self.stride = max(ordinals.values(), default=1)
        self.last_on_main: dict[str, Change] = {}
        self.first_number: dict[str, int] = {}
        self.heads: dict[tuple[str, str, int], tuple[str, str]] = {}
        self.pushes: dict[tuple[str, str], int] = {}

    def pull_request_number(self, template: PipelineTemplate, ticket: int, bot: bool) -> int:
        """Unique in the repository for (pipeline, ticket, bot), growing with the ticket."""
        repository = template.repository.full_name
        first = self.first_number.get(repository)
        if first is None:
            first = 1 + _hash(f"{self.seed}:{repository}") % PULL_REQUEST_NUMBER_SPREAD
            self.first_number[repository] = first
        ordinal = self.ordinal[template.pipeline.key + repository]
        return first + ((ticket - 100) * 2 + bot) * self.stride + ordinal

    def pull_request_url(self, template: PipelineTemplate, number: int) -> str:
        repository = template.repository
        if repository.host == "gitlab.com":
            return f"https://{repository.host}/{repository.full_name}/-/merge_requests/{number}"
        return f"https://{repository.host}/{repository.full_name}/pull/{number}"

    def scheduled(self, template: PipelineTemplate, trigger: str, day: int) -> Change:
        """A nightly run builds the default branch's head that day."""
        team, weights = template.team, template.team_weights
        author = team[bisect_right(weights, self.rng.random() * weights[-1])]
        head = f"{self.seed}:{template.repository.full_name}:{day}"
        return Change(
            commit_sha=_sha(f"{head}:nightly"),
            commit_message=sentence(TOPICS[_hash(head) % len(TOPICS)]),
            commit_author=author_name(author),
            event_kind=named_event_kind(trigger),
        )

    def on_main(
        self, template: PipelineTemplate, trigger: str, actor: str, ticket: int, slot: int
    ) -> Change:
        """A push to the default branch: the pull request ``ticket`` squashed, or a run for
        the commit the repository's previous run on it was for; a deploy may be a tag's."""
        repository = template.repository.full_name
        rng = self.rng
        previous = self.last_on_main.get(repository)
        kind = named_event_kind(trigger)
        if template.kind is blueprints.DEPLOY and rng.random() < TAG_SHARE_OF_DEPLOYS:
            kind = EventKind.TAG
        if previous is not None and rng.random() < SAME_COMMIT_ON_MAIN:
            change = replace(previous, event_kind=kind)
        else:
            number = self.pull_request_number(template, ticket, bot=False)
            change = Change(
                commit_sha=f"{rng.getrandbits(160):040x}",
                commit_message=f"{sentence(topic_of(ticket))} (#{number})",
                commit_author=author_name(actor),
                event_kind=kind,
            )
        self.last_on_main[repository] = change
        return change

    def on_branch(
        self,
        template: PipelineTemplate,
        branch: str,
        trigger: str,
        actor: str,
        title: str,
        ticket: int,
        position: float,
    ) -> Change:
        """A run on a feature branch for the head commit at ``position`` (of the history),
        and of the pull request ``title`` when it is a pull request's."""
        bot = branch.startswith("dependabot/")
        repository = template.repository.full_name
        pushes = self.pushes.get((repository, branch))
        if pushes is None:
            most = MAX_BOT_PUSHES if bot else MAX_PUSHES
            pushes = self.pushes[repository, branch] = (
                1 + _hash(f"{self.seed}:{repository}:{branch}") % most
            )
        period = position * self.branch_periods
        push = min(int((period - int(period)) * pushes), pushes - 1)
        sha, message = self._head(repository, branch, push, title)
        kind = named_event_kind(trigger)
        author = author_name(actor)
        if kind is not EventKind.PULL_REQUEST:
            return Change(sha, message, author, event_kind=kind)
        number = self.pull_request_number(template, ticket, bot)
        return Change(
            commit_sha=sha,
            commit_message=message,
            commit_author=author,
            pull_request_number=number,
            pull_request_title=title,
            pull_request_url=self.pull_request_url(template, number),
            pull_request_source_branch=branch,
            pull_request_target_branch=DEFAULT_BRANCH,
            event_kind=kind,
        )

    def _head(self, repository: str, branch: str, push: int, title: str) -> tuple[str, str]:
        """The SHA and message of the ``push``-th head commit of ``branch``."""
        key = (repository, branch, push)
        head = self.heads.get(key)
        if head is None:
            sha = _sha(f"{self.seed}:{repository}:{branch}:{push}")
            message = title if push == 0 else FOLLOW_UPS[_hash(sha) % len(FOLLOW_UPS)]
            head = self.heads[key] = (sha, message)
        return head
