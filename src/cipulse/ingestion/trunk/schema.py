"""The Trunk trackEvents request, widened to what Jenkins sends.

The Trunk ``trackEvents`` request as the public spec documents it, widened to what the real
Jenkins plugin 1.4.0 sends: ``origin`` and ``payload.timestamps`` extra fields, conclusions beyond
the documented five, a ``parent`` that carries ``chainId`` instead of ``sequenceKey``, and any
case for ``platform``. Any code host is accepted, not only github.com."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator

from cipulse.domain.accepted import MAX_TREE_DEPTH
from cipulse.ingestion.wire_types import (
    EpochMillis,
    Identifier,
    Int64,
    MetricValue,
    Name,
    TagKey,
    TagText,
)

#: Documented conclusions, then the ones the real plugin also sends.
CONCLUSIONS = (
    "SUCCESS",
    "FAILURE",
    "CANCELLED",
    "TIMED_OUT",
    "SKIPPED",
    "UNSPECIFIED",
    "NEUTRAL",
    "ACTION_REQUIRED",
    "STALE",
    "STARTUP_FAILURE",
)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Metric(_Wire):
    k: TagKey
    v: MetricValue


class Tag(_Wire):
    k: TagKey
    v: Annotated[
        Annotated[TagText, Strict()]
        | Annotated[Int64, Strict()]
        | Annotated[float, Strict(), Field(allow_inf_nan=False)],
        Field(union_mode="left_to_right"),
    ]


class Payload(_Wire):
    metrics: list[Metric] = Field(default_factory=list)
    tags: list[Tag] = Field(default_factory=list)


class Sequence(_Wire):
    platform: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Annotated[str, Field(min_length=1, max_length=100)]
    key: Identifier
    name: Name
    payload: Payload | None = None


class Parent(_Wire):
    eventId: Identifier
    sequenceKey: Identifier | None = None
    chainId: Identifier | None = None


class Event(_Wire):
    id: Identifier
    chainId: Identifier
    parent: Parent | None = None
    createdAt: EpochMillis
    finishedAt: EpochMillis | None = None
    conclusion: str | None = None
    payload: Payload | None = None
    sequence: Sequence | None = None

    @field_validator("conclusion")
    @classmethod
    def _known_conclusion(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in CONCLUSIONS:
            raise ValueError("must be one of " + ", ".join(CONCLUSIONS))
        return value


class Repo(_Wire):
    host: Annotated[str, Field(min_length=1, max_length=255)]
    owner: Annotated[str, Field(min_length=1, max_length=200)]
    name: Annotated[str, Field(min_length=1, max_length=200)]


class TrackEventsRequest(_Wire):
    """How deep the events nest their job trees is checked beside the schema
    (``depth_problems``), so that a 400 names every too-deep event with the other problems."""

    repo: Repo
    events: Annotated[list[Event], Field(max_length=10_000)]


#: An event's place in its run's tree: (position in ``events``, chainId, id, parent event id).
Link = tuple[int, str, str, str | None]


def event_links(events: list[Event]) -> list[Link]:
    return [
        (index, e.chainId, e.id, e.parent.eventId if e.parent is not None else None)
        for index, e in enumerate(events)
    ]


def raw_links(body: Any) -> list[Link]:
    """The links of the events of a body the schema refused, as far as they can be read."""
    events = body.get("events") if isinstance(body, dict) else None
    links: list[Link] = []
    for index, event in enumerate(events if isinstance(events, list) else []):
        if not isinstance(event, dict):
            continue
        chain, own, parent = event.get("chainId"), event.get("id"), event.get("parent")
        parent_id = parent.get("eventId") if isinstance(parent, dict) else None
        if isinstance(chain, str) and isinstance(own, str):
            links.append((index, chain, own, parent_id if isinstance(parent_id, str) else None))
    return links


def depth_problems(links: list[Link]) -> list[str]:
    """One problem per event nested more than ``MAX_TREE_DEPTH`` levels deep."""
    depths = node_depths(links)
    return [
        f"events[{index}].parent: nests the job tree more than {MAX_TREE_DEPTH} levels deep"
        for index, chain, own, _ in links
        if depths.get((chain, own), 0) > MAX_TREE_DEPTH
    ]


def node_depths(links: list[Link]) -> dict[tuple[str, str], int]:
    """The level of each job-tree node of the events (a run's own event is none) in its
    run's tree, counting only parents among these events: 1 for a node under the run."""
    parents = {
        (chain, own): parent
        for _, chain, own, parent in links
        if parent is not None and own != chain
    }
    depths: dict[tuple[str, str], int] = {}
    for node in parents:
        path: list[tuple[str, str]] = []
        on_path: set[tuple[str, str]] = set()
        current = node
        while current in parents and current not in depths and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = (current[0], parents[current])
        level = depths.get(current, 0)  # 0: the run, a node sent earlier, or a cycle
        for step in reversed(path):
            level += 1
            depths[step] = level
    return depths


def legacy_shape_problem(body: Any) -> str | None:
    """Plugins before 1.4 sent ``fact`` instead of ``sequence`` and ``{s, n}`` timestamps.
    Say so plainly instead of listing a dozen schema errors."""
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return None
    for index, event in enumerate(body["events"]):
        if not isinstance(event, dict):
            continue
        if "fact" in event or isinstance(event.get("createdAt"), dict):
            return (
                f"events[{index}]: this is the legacy pre-1.4 Trunk payload (`fact`, "
                "`createdAt: {s, n}`), which is not supported; upgrade the Trunk Jenkins "
                "plugin to 1.4.0 or later"
            )
    return None
