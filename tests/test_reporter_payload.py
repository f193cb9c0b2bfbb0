"""The payload pieces both reporters build with (reporters/payload.py), on plain values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, TypeAdapter

from cipulse.domain.status import Status
from cipulse.reporters.errors import SourceUnavailable, parsed
from cipulse.reporters.payload import (
    Attempt,
    RunHeader,
    chosen_mode,
    job_report,
    run_payload,
    unfinished_notes,
)

START = datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
END = datetime(2024, 1, 15, 10, 35, tzinfo=UTC)


def test_auto_mode_is_external_only_when_told() -> None:
    assert chosen_mode("auto", external=True) == "external"
    assert chosen_mode("auto", external=False) == "inline"
    assert chosen_mode("inline", external=True) == "inline"
    assert chosen_mode("external", external=False) == "external"


def test_a_job_entry_holds_only_what_is_known() -> None:
    bare = job_report(
        name="b", job_id=2, status=Status.QUEUED, url=None, started=None, completed=None
    )
    assert bare.job == {"name": "b", "status": "queued", "job_id": 2}
    full = job_report(
        name="t", job_id=1, status=Status.SUCCESS, url="https://x/1", started=START, completed=END
    )
    assert full.job == {
        "name": "t",
        "status": "success",
        "job_id": 1,
        "job_url": "https://x/1",
        "started_at": "2024-01-15T10:30:00Z",
        "completed_at": "2024-01-15T10:35:00Z",
    }
    assert (full.status, full.started, full.completed) == (Status.SUCCESS, START, END)


def test_only_unfinished_jobs_get_a_note() -> None:
    reports = [
        job_report(
            name="done", job_id=1, status=Status.FAILURE, url=None, started=START, completed=END
        ),
        job_report(
            name="slow", job_id=2, status=Status.RUNNING, url=None, started=START, completed=None
        ),
    ]
    assert unfinished_notes(reports, "pipeline's") == [
        "job 'slow' is still running: reported so, and not counted in the pipeline's status"
    ]


def _header(**changes: str | None) -> RunHeader:
    fields: dict[str, str | None] = {"run_name": None, "run_url": None, "branch": None}
    fields.update(changes)
    return RunHeader(
        provider="github",
        repository="o/r",
        pipeline_id=7,
        pipeline_name="ci",
        run_id=9,
        triggered_by="push",
        actor="ann",
        **fields,
    )


def test_a_run_payload_keeps_the_field_order_and_leaves_out_the_unknown() -> None:
    job = job_report(
        name="t", job_id=1, status=Status.SUCCESS, url=None, started=None, completed=None
    )
    running = run_payload(_header(), Attempt(2, Status.RUNNING, START, None, [job]), "inline")
    assert list(running) == [
        "provider", "repository", "pipeline_id", "pipeline_name", "run_id", "run_attempt",
        "status", "mode", "started_at", "triggered_by", "actor", "jobs",
    ]  # fmt: skip
    assert (running["run_attempt"], running["status"], running["jobs"]) == (2, "running", [job.job])
    done = run_payload(
        _header(run_name="n", run_url="https://r", branch="main"),
        Attempt(1, Status.SUCCESS, START, END, []),
        "external",
    )
    assert {key: done[key] for key in ("run_name", "run_url", "completed_at", "branch")} == {
        "run_name": "n",
        "run_url": "https://r",
        "completed_at": "2024-01-15T10:35:00Z",
        "branch": "main",
    }


class _Thing(BaseModel):
    id: int
    name: str


def test_parsed_names_the_fields_that_are_not_as_documented() -> None:
    adapter = TypeAdapter(list[_Thing])
    assert parsed(adapter, [{"id": 1, "name": "a"}], "API", "https://u") == [_Thing(id=1, name="a")]
    with pytest.raises(
        SourceUnavailable, match=r"API: unexpected answer from https://u: .*\[0\]\.name"
    ):
        parsed(adapter, [{"id": 1}], "API", "https://u")
