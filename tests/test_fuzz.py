"""A schema-driven fuzz test over every endpoint, parameter and form, on SQLite and PostgreSQL.

Requests are generated from the OpenAPI document (every operation; each of its parameters by
its schema, mixing good values, random text and values that once gave a 500; JSON bodies by
editing real payloads at random, webhooks signed as their provider signs them) and, for the
dashboard's pages and forms, which the document leaves out, from the small description
``DASHBOARD`` below. A test checks that every route of the app is one of them.

Every answer must be below 500 and, for an operation of the document, one of the statuses the
document lists for it; an answer of 4xx must have written nothing (the rows of every table are
counted before and after). Bounded and deterministic: ``EXAMPLES`` per operation, derandomized."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from cipulse.accounts.repositories import RepositoryService
from cipulse.accounts.service import AccountService
from cipulse.accounts.users import UserService
from cipulse.accounts.webhooks import github_signature
from cipulse.settings import Settings
from cipulse.storage.database import Database
from cipulse.storage.schema import metadata
from cipulse.web.app import create_app
from cipulse.web.dashboard.auth import SESSION_COOKIE
from tests.builders import (
    RUNWATCH_EXAMPLE,
    TRUNK_EXAMPLE,
    real_fixture,
    runwatch_run,
    trunk_event,
    trunk_request,
)
from tests.fuzzing import mutated
from tests.webhooks import GITHUB_SECRET, GITLAB_TOKEN, hooked_org

#: Slow: the fuzz test sends hundreds of generated requests per database.
#: make test-fast skips them; make test and CI run them.
pytestmark = pytest.mark.slow

#: Examples per operation: about 40 operations, so a few hundred requests per database.
EXAMPLES = 12
PASSWORD = "correct horse battery"
FUZZ = hypothesis_settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
#: Text that once reached somewhere it should not: NUL, edges of the calendar, huge numbers.
EDGES = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "é",
    "0",
    "-1",
    str(2**63),
    str(2**70),
    "1e308",
    "NaN",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "9999-12-31",
    "1969-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2199-12-31",
    "'; DROP TABLE run_attempts; --",
    '"',
    "$[0]",
    "%",
    "../",
    "..%2F..%2Fetc",
    "x" * 1500,
    "k:v",
    'q"uote:v',
    "tag:",
    "tag:\x00",
    str(uuid.UUID(int=1)).upper(),
]
FUZZ_TEXT = st.one_of(st.text(max_size=24), st.sampled_from(EDGES))
#: Stands for the session's CSRF token (known only when the request is made).
CSRF = "<csrf>"


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@dataclass
class World:
    """A seeded organisation seen through the real app: keys, a signed-in admin, data."""

    client: TestClient
    database: Database
    read_key: str
    ingest_key: str
    attempt_id: str
    pipeline_id: str
    victim_prefix: str
    csrf: str = ""
    good: dict[str, list[Any]] = field(default_factory=dict)

    def sign_in_again(self) -> None:
        """A fresh session for the admin, bypassing the sign-in form (and its throttle)."""
        signed = UserService(self.database).sign_in("ada@example.com", PASSWORD)
        self.client.cookies.set(SESSION_COOKIE, signed.token)
        page = self.client.get("/settings").text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found is not None, page[:300]
        self.csrf = found.group(1)

    def counts(self) -> tuple[int, ...]:
        query = sa.select(
            *(
                sa.select(sa.func.count()).select_from(table).scalar_subquery()
                for table in metadata.sorted_tables
            )
        )
        with self.database.read() as conn:
            return tuple(conn.execute(query).one())


def _seed(client: TestClient, database: Database) -> World:
    hooked = hooked_org(database, "acme")
    accounts = AccountService(database)
    ingest_key = accounts.create_key("acme", scopes=("ingest",)).key
    victim = accounts.create_key("acme", "victim", scopes=("read",))
    accounts.create_organisation("globex")
    users = UserService(database)
    users.create_user("ada@example.com", "acme", PASSWORD)
    users.create_user("ada@example.com", "globex", None, role="member")
    now = datetime.now(UTC).replace(microsecond=0)
    started = (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = [
        runwatch_run(run_id=1, status="failure", started_at=started, completed_at=None),
        runwatch_run(run_id=1, run_attempt=2, started_at=started, completed_at=None),
    ]
    headers = {"X-API-Key": ingest_key}
    ids = [client.post("/functions/v1/ingest", json=r, headers=headers).json() for r in runs]
    attempt_id = ids[0]["pipeline_run_id"]
    created = int((now - timedelta(hours=2)).timestamp() * 1000)
    trunk = trunk_request(
        trunk_event("root", "chain", kind="pipeline", created_at=created, finished_at=None),
        trunk_event(
            "job", "chain", parent="root", created_at=created, metrics={"tests": 3}, tags={"k": 1}
        ),
    )
    assert client.post("/v1/metrics/trackEvents", json=trunk, headers=headers).status_code == 200
    detail = client.get(f"/api/v1/runs/{attempt_id}", headers={"X-API-Key": hooked.read_key})
    pipeline_id = detail.json()["pipeline_id"]
    page = client.get("/api/v1/runs?limit=1", headers={"X-API-Key": hooked.read_key}).json()
    repository_id = RepositoryService(database).repositories("acme")[0].id
    world = World(
        client, database, hooked.read_key, ingest_key, attempt_id, pipeline_id, victim.prefix
    )
    world.sign_in_again()
    today = now.date().isoformat()
    world.good = {
        "since": [started, "1970-01-01T00:00:00Z", "2190-01-01T00:00:00Z", "2024-01-01"],
        "until": [now.isoformat(), "2200-01-01T00:00:00Z", today],
        "days": ["1", "7", "3660", "3661"],
        "range": ["24h", "7d", "30d", "90d", "fortnight"],
        "repository": ["acme/cool-project", "ACME/COOL-PROJECT"],
        "pipeline": [pipeline_id, pipeline_id.upper(), "CI Pipeline"],
        "pipeline_id": [pipeline_id, pipeline_id.upper()],
        "pipeline_run_id": [attempt_id, attempt_id.upper()],
        "attempt_id": [attempt_id, attempt_id.upper()],
        "branch": ["main"],
        "branches": ["default", "other"],
        "provider": ["github", "jenkins"],
        "status": ["success", "failure,success", "bogus"],
        "actor": ["octocat"],
        "tag": [["k:1"], ["k:1", 'q"uote:v']],
        "format": ["json", "csv"],
        "interval": ["hour", "day", "week"],
        "metric": ["runs", "success_rate", "mttr_seconds", "p95_duration_seconds"],
        "sort": ["name", "-runs", "-p95_duration_seconds", "job", "-flaky_count", "-runs"],
        "key": ["tests"],
        "group_by": ["tag:k", "tag:"],
        "group": ["k"],
        "aggregation": ["mean", "p95", "sum", "bogus"],
        "limit": [1, 5, 1000, 0, 1001, -1, 2**70],
        "cursor": [page["next_cursor"], _cursor("offset:1"), _cursor(f"offset:{10**30}")],
        "q": ["CI", "app"],
        "job": ["build", "test", "BUILD", "a/b", "..", "50%"],
        "page": ["1", "2", "0", "99999999999999999999"],
        "at": [started, "9999-12-31T23:59:59Z"],
        "org": ["acme", "globex", "nope"],
        "email": ["ada@example.com", "ADA@example.com", "nobody@example.com"],
        "password": [PASSWORD, "wrong"],
        "csrf": [CSRF, CSRF, CSRF],
        "next": ["/", "//evil.example", "/pipelines"],
        "name": ["ci", "k" * 101, "tab\there"],
        "scope": ["ingest", "read", ["ingest", "read"], "admin"],
        "prefix": [victim.prefix, "cip_nothere"],
        "role": ["admin", "member", "owner"],
        "confirm": ["", "acme/other-project", "ada@example.com"],
        "repository_id": [repository_id, repository_id.upper(), "nope"],
        "secret": ["", "s3cret", "x" * 1001],
    }
    return world


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    settings = Settings(database_url=database_url, bootstrap_org="", rollup_interval_seconds=0)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        database = Database(settings)
        try:
            yield _seed(client, database)
        finally:
            database.dispose()


# --- What a request is made of ----------------------------------------------------------------


def _value(world: World, name: str, schema: dict[str, Any] | None = None) -> Any:
    """A strategy for the value of parameter ``name``: a good one, random text, or an edge."""
    good = world.good.get(name, [])
    kind = (schema or {}).get("type")
    options = [FUZZ_TEXT]
    if good:
        options.insert(0, st.sampled_from(good))
    if kind == "integer":
        options.append(st.integers().map(str))
    if kind == "array":
        options.append(st.lists(FUZZ_TEXT, max_size=3))
    return st.one_of(options)


def _params(world: World, names: dict[str, dict[str, Any] | None]) -> Any:
    return st.fixed_dictionaries({}, optional={n: _value(world, n, s) for n, s in names.items()})


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with path parameters filled in
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    form: dict[str, Any] | None = None


def _path(template: str, values: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), template)


def _path_values(world: World, template: str) -> Any:
    names = re.findall(r"\{(\w+)\}", template)
    # An empty segment, "." or ".." is no value of the parameter: the URL means another path.
    segment = {name: _value(world, name).filter(_a_segment) for name in names}
    return st.fixed_dictionaries(segment)


def _a_segment(value: Any) -> bool:
    return str(value) not in {"", ".", ".."}


def _key_headers(world: World) -> Any:
    return st.sampled_from(
        [
            {"X-API-Key": world.read_key},
            {"X-API-Key": world.read_key},
            {"Authorization": f"Bearer {world.ingest_key}"},
            {"X-API-Key": "cip_garbage"},
            {},
        ]
    )


@st.composite
def _ingest_request(draw: st.DrawFn, world: World, path: str, example: dict[str, Any]) -> Request:
    body = draw(st.one_of(st.just(example), mutated(example), st.binary(max_size=40)))
    content = body if isinstance(body, bytes) else _json(body)
    headers = {"X-API-Key": world.ingest_key, "x-api-token": world.ingest_key}
    headers = draw(st.sampled_from([headers, headers, {"X-API-Key": world.read_key}, {}]))
    return Request(
        "POST", path, headers={**headers, "Content-Type": "application/json"}, content=content
    )


JUNIT = (Path(__file__).parent / "fixtures/real/junit/pytest-9.2.xml").read_bytes()


@st.composite
def _test_results_request(draw: st.DrawFn, world: World, operation: dict[str, Any]) -> Request:
    """A JUnit report (whole, cut short, or bytes), to a run by random parameters."""
    cut = draw(st.integers(min_value=0, max_value=len(JUNIT)))
    body = draw(st.sampled_from([JUNIT, JUNIT[:cut], draw(st.binary(max_size=40))]))
    names = {p["name"]: p.get("schema") for p in operation.get("parameters", [])}
    headers = draw(
        st.sampled_from([{"X-API-Key": world.ingest_key}, {"X-API-Key": world.read_key}, {}])
    )
    return Request(
        "POST",
        "/api/v1/test-results",
        params=draw(_params(world, names)),
        headers={**headers, "Content-Type": "application/xml"},
        content=body,
    )


WEBHOOK_EVENTS = {
    "github": {
        "workflow_run": "github-workflow_run.completed.json",
        "workflow_job": "github-workflow_job.completed.success.with-organization.json",
        "ping": "github-workflow_run.requested.json",
        "push": "github-workflow_run.requested.json",
    },
    "gitlab": {
        "Pipeline Hook": "gitlab-docs.pipeline-event.json",
        "Job Hook": "gitlab-docs.job-event.json",
        "Push Hook": "gitlab-docs.job-event.json",
    },
}


@st.composite
def _webhook_request(draw: st.DrawFn, world: World, template: str) -> Request:
    provider = template.split("/")[2]
    event = draw(st.sampled_from(sorted(WEBHOOK_EVENTS[provider])))
    payload = draw(mutated(real_fixture(WEBHOOK_EVENTS[provider][event])))
    body = _json(payload)
    org = draw(st.one_of(st.just("acme"), st.just("acme"), _value(world, "org")))
    headers = {"Content-Type": "application/json"}
    if provider == "github":
        headers["X-GitHub-Event"] = event
        headers["X-GitHub-Delivery"] = draw(st.sampled_from(["same", str(uuid.uuid4())]))
        secret = draw(st.sampled_from([GITHUB_SECRET, GITHUB_SECRET, "wrong"]))
        headers["X-Hub-Signature-256"] = github_signature(secret, body)
    else:
        headers["X-Gitlab-Event"] = event
        headers["X-Gitlab-Token"] = draw(st.sampled_from([GITLAB_TOKEN, GITLAB_TOKEN, "wrong"]))
    return Request("POST", _path(template, {"org": org}), headers=headers, content=body)


def _json(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


@st.composite
def _api_request(draw: st.DrawFn, world: World, path: str, operation: dict[str, Any]) -> Request:
    parameters = operation.get("parameters", [])
    query = {p["name"]: p.get("schema") for p in parameters if p["in"] == "query"}
    values = draw(_path_values(world, path))
    return Request(
        "GET",
        _path(path, values),
        params=draw(_params(world, query)),
        headers=draw(_key_headers(world)),
    )


# --- The dashboard, which the OpenAPI document leaves out -------------------------------------

VIEW = ("range", "since", "until", "branches", "repository", "team")


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()


DASHBOARD = (
    Page("GET", "/", VIEW),
    Page("GET", "/pipelines", (*VIEW, "sort", "q", "provider", "page")),
    Page("GET", "/pipelines/{pipeline_id}", (*VIEW, "sort")),
    Page(
        "GET",
        "/runs",
        (*VIEW, "commit", "pull_request", "author", "branch_contains", "event_kind", "cursor"),
    ),
    Page("GET", "/runs/{attempt_id}", VIEW),
    Page("GET", "/jobs", (*VIEW, "sort", "cursor", "job", "pipeline", "level")),
    Page("GET", "/jobs/{pipeline_id}/{job}", (*VIEW, "level")),
    Page("GET", "/jobs/{pipeline_id}", (*VIEW, "job")),
    Page("GET", "/pull-requests", (*VIEW, "sort", "author", "cursor")),
    Page("GET", "/pull-requests/{repository_id}/{number}", (*VIEW, "cursor")),
    Page("GET", "/runners", (*VIEW, "sort", "cursor")),
    Page("GET", "/runners/names", (*VIEW, "label_set")),
    Page("GET", "/flaky", VIEW),
    Page("GET", "/tests", (*VIEW, "sort", "cursor", "q")),
    Page("GET", "/tests/{test_id}", (*VIEW, "cursor")),
    Page("GET", "/quarantine", VIEW),
    Page("POST", "/quarantine/add", form=("csrf", "repository", "tests", "reason")),
    Page("POST", "/quarantine/remove", form=("csrf", "repository", "test", "reason")),
    Page("GET", "/metrics", (*VIEW, "key", "aggregation", "group")),
    Page("GET", "/teams", (*VIEW, "sort")),
    Page("GET", "/costs", (*VIEW, "group_by")),
    Page("GET", "/settings", VIEW),
    Page("GET", "/red-since", ("pipeline", "at", "branch")),
    Page("GET", "/sign-in", ("next",)),
    Page("POST", "/sign-in", form=("email", "password", "csrf", "next")),
    Page("POST", "/sign-out", form=("csrf",)),
    Page("POST", "/organisation", form=("org", "csrf")),
    Page("POST", "/settings/keys", form=("csrf", "name", "scope")),
    Page("POST", "/settings/keys/{prefix}/revoke", form=("csrf",)),
    Page("POST", "/settings/members", form=("csrf", "email", "role")),
    Page("POST", "/settings/members/role", form=("csrf", "email", "role")),
    Page("POST", "/settings/members/remove", form=("csrf", "email")),
    Page("POST", "/settings/members/disable", form=("csrf", "email")),
    Page("POST", "/settings/members/enable", form=("csrf", "email")),
    Page("POST", "/settings/members/delete", form=("csrf", "email", "confirm")),
    Page("POST", "/settings/repositories/{repository_id}/delete", form=("csrf", "confirm")),
    Page("POST", "/settings/webhooks/{provider}", form=("csrf", "secret")),
    Page("POST", "/settings/teams/codeowners", form=("csrf", "repository", "text")),
    Page("POST", "/settings/teams/codeowners/remove", form=("csrf", "repository")),
    Page("POST", "/settings/teams/rules", form=("csrf", "kind", "pattern", "team")),
    Page("POST", "/settings/teams/rules/remove", form=("csrf", "kind", "pattern")),
    Page(
        "POST",
        "/settings/rates",
        form=("csrf", "provider", "pattern", "price", "platform", "effective"),
    ),
    Page("POST", "/settings/rates/remove", form=("csrf", "provider", "pattern", "effective")),
    Page("POST", "/settings/rates/defaults", form=("csrf",)),
    Page("POST", "/settings/currency", form=("csrf", "currency")),
    Page(
        "POST",
        "/settings/test-rules",
        form=("csrf", "rule", "clear_after_passes", "max_flip_failures"),
    ),
    Page("GET", "/api", ("format",)),
    Page("GET", "/openapi.json", ("format",)),
    Page("GET", "/static/{file}", ()),
)
#: Aliases left out of the document: the documented path whose operation they answer as.
ALIASES = {
    "/v1/ingest": "/functions/v1/ingest",
    "/v1/metrics/trackEvent": "/v1/metrics/trackEvents",
    "/v1/metrics/v2/trackEvents": "/v1/metrics/trackEvents",
}


@st.composite
def _page_request(draw: st.DrawFn, world: World, page: Page) -> Request:
    values = draw(_path_values(world, page.path))
    if page.path.startswith("/static/"):
        values = {"file": draw(st.one_of(st.just("app.css"), FUZZ_TEXT))}
    params = draw(_params(world, dict.fromkeys(page.query)))
    form = None
    if page.method == "POST":  # with a token, or the form is refused before anything else
        token = {"csrf": _value(world, "csrf")} if "csrf" in page.form else {}
        others = {n: _value(world, n) for n in page.form if n != "csrf"}
        form = draw(st.fixed_dictionaries(token, optional=others))
    return Request(page.method, _path(page.path, values), params=params, form=form)


# --- The test ------------------------------------------------------------------------------------


def _send(world: World, request: Request) -> Any:
    form = request.form
    if form is not None and request.path == "/sign-in":
        # The sign-in form's token is a cookie of the signed-out form: fetch one.
        world.client.cookies.delete(SESSION_COOKIE)
        found = re.search(r'name="csrf" value="([^"]+)"', world.client.get("/sign-in").text)
        assert found is not None
        form = {k: found.group(1) if v == CSRF else v for k, v in form.items()}
    elif form is not None:
        form = {k: world.csrf if v == CSRF else v for k, v in form.items()}
    return world.client.request(
        request.method,
        request.path,
        params=request.params,
        headers=request.headers,
        content=request.content,
        data=form,
        follow_redirects=False,
    )


def _check(world: World, request: Request, documented: set[str] | None) -> None:
    before = world.counts()
    response = _send(world, request)
    status = response.status_code
    where = f"{request.method} {request.path} {request.params} {request.form}"
    assert status < 500, f"{where}: {status} {response.text[:500]}"
    if documented is not None:
        assert str(status) in documented, f"{where}: {status} is not documented"
    if 400 <= status < 500:
        assert world.counts() == before, f"{where}: a {status} wrote rows"
    if request.method == "POST" and request.path in {"/sign-in", "/sign-out", "/organisation"}:
        world.sign_in_again()  # the fuzz goes on as the admin of acme


def _operations(world: World) -> list[tuple[str, Any, set[str] | None]]:
    """Every operation: a name, a strategy for its requests, its documented statuses."""
    document = world.client.get("/openapi.json").json()
    operations: list[tuple[str, Any, set[str] | None]] = []
    examples = {"/functions/v1/ingest": RUNWATCH_EXAMPLE, "/v1/metrics/trackEvents": TRUNK_EXAMPLE}
    examples["/api/v1/ingest"] = RUNWATCH_EXAMPLE
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            documented = set(operation["responses"])
            name = f"{method.upper()} {path}"
            if path in examples:
                for alias in [path, *(a for a, main in ALIASES.items() if main == path)]:
                    strategy = _ingest_request(world, alias, examples[path])
                    operations.append((f"POST {alias}", strategy, documented))
            elif path == "/api/v1/test-results":
                operations.append((name, _test_results_request(world, operation), documented))
            elif path.startswith("/webhooks/"):
                strategy = _webhook_request(world, path)
                operations.append((name, strategy, documented))
            else:
                strategy = _api_request(world, path, operation)
                operations.append((name, strategy, documented))
    for page in DASHBOARD:
        strategy = _page_request(world, page)
        operations.append((f"{page.method} {page.path}", strategy, None))
    return operations


def _every_route(routes: list[Any]) -> Iterator[Any]:
    """The routes, those of included routers too (FastAPI keeps those in their router)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _every_route(included.routes)
        else:
            yield route


def test_every_route_is_fuzzed(world: World) -> None:
    """The fuzz covers every route of the app: a new one must be described here."""
    document = world.client.get("/openapi.json").json()
    fuzzed = {(m.upper(), p) for p, methods in document["paths"].items() for m in methods}
    fuzzed |= {("POST", alias) for alias in ALIASES}
    fuzzed |= {(page.method, page.path) for page in DASHBOARD}
    routes = set()
    for route in _every_route(world.client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, APIRoute | Route):
            # A path parameter's converter ({job:path}) is not part of the documented path.
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
            routes |= {(m, path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, Mount):
            routes.add(("GET", f"{route.path}/{{file}}"))
    assert routes == fuzzed


def _fuzzed(world: World, strategy: Any, documented: set[str] | None) -> Callable[[], None]:
    @FUZZ
    @given(request=strategy)
    def check(request: Request) -> None:
        _check(world, request, documented)

    return check  # type: ignore[no-any-return]


def test_no_input_gives_a_500_and_a_4xx_writes_nothing(world: World) -> None:
    for name, strategy, documented in _operations(world):
        try:
            _fuzzed(world, strategy, documented)()
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc
