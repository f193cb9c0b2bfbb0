"""Webhook events from GitHub and GitLab: which ones are stored, and parsing them into a
``Submission`` with the converters (``github/converter.py``, ``gitlab/converter.py``).
Deliveries are verified first (``accounts/webhooks.py``)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ValidationError

from cipulse.domain.model import Submission, WebhookProvider
from cipulse.ingestion.formats import reject_nul
from cipulse.ingestion.github import converter as github
from cipulse.ingestion.github.schema import WorkflowJobEvent, WorkflowRunEvent
from cipulse.ingestion.gitlab import converter as gitlab
from cipulse.ingestion.gitlab.schema import JobEvent, PipelineEvent
from cipulse.ingestion.validation import invalid_request

#: The events each provider's receiver stores, by event name (``X-GitHub-Event``,
#: ``X-Gitlab-Event``): the payload model and its converter. Others are acknowledged (202).
_EVENTS: dict[WebhookProvider, dict[str, tuple[type[BaseModel], Callable[..., Submission]]]] = {
    WebhookProvider.GITHUB: {
        "workflow_run": (WorkflowRunEvent, github.convert_run),
        "workflow_job": (WorkflowJobEvent, github.convert_job),
    },
    WebhookProvider.GITLAB: {
        "Pipeline Hook": (PipelineEvent, gitlab.convert_pipeline),
        "Job Hook": (JobEvent, gitlab.convert_job),
    },
}


def handles(provider: WebhookProvider, event: str | None) -> bool:
    return event in _EVENTS[provider]


def parse_event(provider: WebhookProvider, event: str, body: bytes) -> Submission:
    """The submission of a delivery of an event ``handles`` says is stored."""
    reject_nul(body)
    model, convert = _EVENTS[provider][event]
    try:
        payload = model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    return convert(payload)
