"""Where a job ran and how long it waited: runner facts and queue time.

Every source names the machine a job ran on in its own words: GitHub's ``labels``,
``runner_name`` and ``runner_group_name``; GitLab's runner ``id``, ``description`` and
``tags``; the Jenkins label a Trunk event carries; RunWatch's ``runner_*`` extension fields
(docs/api.md, "cipulse extensions: queue time and runners"). A job keeps them as four facts:
its **label set** (the labels that chose its runner, the unit users compare pools by), the
runner's name, its group and its id. Each is unknown (None) unless the source gives it.

A label set is written one way whatever order the source gave the labels in: each label
trimmed, empty ones and repeats dropped, sorted by code point, joined with ``,``
(``self-hosted,linux,x64`` and ``linux, x64,self-hosted`` are the same pool,
``linux,self-hosted,x64``). Labels keep their case: GitLab's tags are case-sensitive."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: How a label set is written: labels joined with this (a label holding it is split).
LABEL_SEPARATOR = ","


def label_set(labels: Iterable[str] | str | None) -> str | None:
    """The label set of ``labels`` (a list, or text joined with ``,``); None when empty."""
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = labels.split(LABEL_SEPARATOR)
    parts = {part.strip() for label in labels for part in label.split(LABEL_SEPARATOR)}
    parts.discard("")
    return LABEL_SEPARATOR.join(sorted(parts)) or None


@dataclass(frozen=True, slots=True)
class Runner:
    """The runner a job ran on, as far as its source says (label set normalised)."""

    labels: str | None = None
    name: str | None = None
    group: str | None = None
    id: str | None = None

    @classmethod
    def of(
        cls,
        labels: Iterable[str] | str | None = None,
        name: str | None = None,
        group: str | None = None,
        id: str | int | None = None,
    ) -> Runner:
        """Facts as a source gives them: labels normalised, blanks unknown."""
        return cls(
            labels=label_set(labels),
            name=_known(name),
            group=_known(group),
            id=_known(None if id is None else str(id)),
        )

    def columns(self) -> tuple[str | None, str | None, str | None, str | None]:
        """The values of ``jobs``' runner columns, in their order."""
        return (self.labels, self.name, self.group, self.id)


#: A job whose source says nothing of its runner.
NO_RUNNER = Runner()


def queue_seconds(value: float | None) -> float | None:
    """A queue time as stored: seconds from at least zero; negative ones are unknown."""
    if value is None or value < 0:
        return None
    return float(value)


def _known(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None
