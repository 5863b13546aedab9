"""functions/openapi.json describes exactly the routes in functions/routes.py, and schemathesis finds no
answer that breaks it: no 5xx, no undocumented status, every error a JSON body with error, message, hint."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from functions import routes
from functions.core import keys
from tests.support.tables import SMALL_CSV, load_csv

SPEC = json.loads(routes.OPENAPI.read_text())
ALL_RULES = routes.DUMP_RULES + routes.WORKER_RULES + routes.STREAM_RULES + routes.LOCAL_RULES
HTTP_METHODS = {"get", "head", "post", "put", "patch", "delete", "options"}
CORS_RULES = routes.DUMP_RULES + routes.STREAM_RULES + routes.LOCAL_RULES  # routed with cors=True: OPTIONS preflights


def route_table() -> dict[str, set[str]]:
    """Werkzeug's rules as OpenAPI paths: <path:name> becomes {name}; a GET rule also answers HEAD."""
    table: dict[str, set[str]] = {}
    for rule in ALL_RULES:
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        table.setdefault(path, set()).update(method.lower() for method in rule.methods)
        if any(rule is cors_rule for cors_rule in CORS_RULES):
            table[path].add("options")
    return table


def test_every_route_is_described_and_every_description_is_a_route():
    described = {path: {m for m in item if m in HTTP_METHODS} for path, item in SPEC["paths"].items()}
    assert described == route_table()


def test_the_cors_routers_answer_the_described_preflights(make_app, serve):
    live = serve(make_app(CORS_ORIGINS="https://ckan.example"))
    for path, item in SPEC["paths"].items():
        if "options" in item:
            url = live.url + path.replace("{resource_id}", "small").replace("{name}", "x")
            answer = requests.options(url, headers={"Origin": "https://ckan.example",
                                                    "Access-Control-Request-Method": "GET"}, timeout=30)
            assert answer.status_code == 204 and answer.headers["Access-Control-Allow-Origin"] == \
                "https://ckan.example", path


def test_the_dump_function_serves_the_description(make_app, serve):
    live = serve(make_app())
    answer = requests.get(live.url + "/openapi.json", timeout=30)
    assert answer.status_code == 200 and answer.json() == SPEC
    assert "/openapi.json" in [rule.rule for rule in routes.DUMP_RULES]  # deployed with the dump function


def test_every_error_response_is_described_as_the_error_schema():
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and method != "head":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (path, method, status)


def test_schemathesis_finds_no_5xx_and_only_described_json_errors(make_app, serve, tmp_path):
    app = make_app(DUMP_WAIT_SECONDS=1, PREWARM_SECRET="pw")
    load_csv(app, "small", SMALL_CSV, tmp_path)
    live = serve(app)
    schema = schemathesis.openapi.from_dict(SPEC)
    secrets = {"X-Worker-Secret": keys.worker_door_secret(b"test-secret"), "X-Prewarm-Secret": "pw"}
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        has_input = bool(raw.get("parameters") or raw.get("requestBody"))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,):
            @settings(max_examples=20, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exercise(case):
                for headers in ({}, secrets):  # without and with the local doors' secrets
                    answer = case.call(base_url=live.url, headers=headers, allow_redirects=False, timeout=30)
                    statuses[answer.status_code] += 1
                    problem = judge(operation, case.method, answer)  # noqa: B023  (run at once, below)
                    if problem:
                        problems.append(f"{case.method} {answer.request.url[:200]}: {problem}")

            exercise()
    assert not problems, "\n".join(problems[:20])
    assert sum(statuses.values()) > 300 and {200, 400, 403, 404} <= statuses.keys(), statuses
    assert time.monotonic() - started < 60


def judge(operation, method: str, answer: requests.Response) -> str | None:
    described = operation.definition.raw["responses"]
    if answer.status_code >= 500:
        return f"{answer.status_code}: {answer.text[:200]}"
    if str(answer.status_code) not in described:
        return f"undescribed status {answer.status_code}: {answer.text[:200]}"
    if answer.status_code >= 400 and method.upper() != "HEAD":
        try:
            body = answer.json()
        except ValueError:
            return f"{answer.status_code} without a JSON body: {answer.text[:200]}"
        if not (isinstance(body, dict) and all(isinstance(body.get(k), str) and body[k]
                                               for k in ("error", "message", "hint"))):
            return f"{answer.status_code} body lacks error, message or hint: {body}"
    return None
