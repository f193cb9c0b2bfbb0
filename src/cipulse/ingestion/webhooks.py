"""Which webhook events are stored, parsed into a Submission.

Webhook events from GitHub and GitLab: which ones are stored, and parsing them into a
``Submission`` with the converters (``github/converter.py``, ``gitlab/converter.py``).
Deliveries are verified first (``accounts/webhooks.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError

from cipulse.domain.model import Submission, WebhookProvider
from cipulse.ingestion.formats import nul_problems
from cipulse.ingestion.github import converter as github
from cipulse.ingestion.github.schema import WorkflowJobEvent, WorkflowRunEvent
from cipulse.ingestion.gitlab import converter as gitlab
from cipulse.ingestion.gitlab.schema import JobEvent, PipelineEvent, raw_repository_problems
from cipulse.ingestion.validation import problems_of, refused


def _none(body: Any) -> list[str]:
    return []


@dataclass(frozen=True, slots=True)
class _Stored:
    """An event that is stored: its payload model, its converter, and the checks across its
    fields to run on the raw body when the model refused it (a model's own checks across
    fields run only once its fields are valid), so that a 400 names every problem."""

    model: type[BaseModel]
    convert: Callable[..., Submission]
    raw_checks: Callable[[Any], list[str]] = _none


#: The events each provider's receiver stores, by event name (``X-GitHub-Event``,
#: ``X-Gitlab-Event``). Others are acknowledged (202).
_EVENTS: dict[WebhookProvider, dict[str, _Stored]] = {
    WebhookProvider.GITHUB: {
        "workflow_run": _Stored(WorkflowRunEvent, github.convert_run),
        "workflow_job": _Stored(WorkflowJobEvent, github.convert_job),
    },
    WebhookProvider.GITLAB: {
        "Pipeline Hook": _Stored(
            PipelineEvent,
            gitlab.convert_pipeline,
            partial(raw_repository_problems, project_required=True),
        ),
        "Job Hook": _Stored(
            JobEvent, gitlab.convert_job, partial(raw_repository_problems, project_required=False)
        ),
    },
}


def handles(provider: WebhookProvider, event: str | None) -> bool:
    return event in _EVENTS[provider]


def parse_event(provider: WebhookProvider, event: str, body: bytes) -> Submission:
    """The submission of a delivery of an event ``handles`` says is stored. Raises
    ``InvalidRequest`` naming every problem of the payload at once."""
    stored = _EVENTS[provider][event]
    problems = nul_problems(body)
    try:
        payload = stored.model.model_validate_json(body)
    except ValidationError as exc:
        try:
            raw = orjson.loads(body)
        except orjson.JSONDecodeError:
            raw = None
        raise refused(problems + problems_of(exc) + stored.raw_checks(raw)) from None
    if problems:
        raise refused(problems)
    return stored.convert(payload)
