"""One `terraform apply` deploys: the example uploads the packaged source and writes the token key write-only,
and every knob of the modules is one of its variables. Read from real Terraform's plan (tests/conftest.py) and
from the configuration itself (python-hcl2)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from scripts import package
from tests.support.terraform import TERRAFORM, TOKEN_KEY, plan_example, source_zip

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = TERRAFORM / "examples" / "basic"
MODULES = TERRAFORM / "modules"
_HCL = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def parsed(directory: Path) -> dict:
    """{"variable": {name: body}, "module": {name: body}} of one configuration directory."""
    merged = {"variable": {}, "module": {}}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            document = hcl2.load(handle, serialization_options=_HCL)
        for kind in merged:
            for block in document.get(kind, []):
                merged[kind].update(block)
    return merged


def single(items):
    assert isinstance(items, list) and len(items) == 1, items
    return items[0]


def test_package_is_reproducible_and_holds_only_what_the_functions_run(tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert package.build(first) == package.build(second) == hashlib.sha256(first.read_bytes()).hexdigest()
    assert first.read_bytes() == second.read_bytes()
    names = zipfile.ZipFile(first).namelist()
    assert {"main.py", "requirements.txt", "functions/wiring.py", "jobs/export_worker.py",
            "functions/openapi.json"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "terraform/", "build/")) or n.endswith(".pyc")
                or "__pycache__" in n], names
    assert names == sorted(names)


def test_make_package_builds_the_zip_terraform_uploads():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^package:.*\n\t.*scripts/package\.py", makefile, re.M)
    assert re.search(r"^deploy: package", makefile, re.M)
    local = parsed(EXAMPLE)
    assert "build/bqdump-source.zip" in (EXAMPLE / "main.tf").read_text()
    assert package.DEFAULT_OUTPUT == ROOT / "build" / "bqdump-source.zip"
    assert local["variable"]["source_zip"]["default"] is None


def test_the_source_is_uploaded_under_its_content_hash_and_built_from(planned, terraform_workspace):
    digest = hashlib.sha256(source_zip(terraform_workspace).read_bytes()).hexdigest()
    bucket = single(planned.of_type("google_storage_bucket"))["values"]["name"]
    uploaded = single(planned.of_type("google_storage_bucket_object"))["values"]
    assert uploaded["bucket"] == bucket and uploaded["name"] == f"source/bqdump-{digest[:16]}.zip"
    assert uploaded["content_type"] == "application/zip"
    assert Path(uploaded["source"]).resolve() == source_zip(terraform_workspace).resolve()
    for values in planned.functions().values():
        storage = single(single(single(values["build_config"])["source"])["storage_source"])
        assert (storage["bucket"], storage["object"]) == (bucket, uploaded["name"])
    assert planned.plan_json["planned_values"]["outputs"]["source_archive"]["value"] == \
        f"gs://{bucket}/source/bqdump-{digest[:16]}.zip"


def test_a_missing_zip_asks_for_make_package(terraform_workspace):
    missing = plan_example(terraform_workspace, f"source_zip={terraform_workspace.workspace / 'nowhere.zip'}",
                           copy_name="terraform-no-zip")
    assert missing.plan.retcode != 0
    assert "run `make package`" in re.sub(r"\s*│\s*", " ", missing.plan.output), missing.plan.output


def test_the_token_key_is_written_write_only_and_never_reaches_the_plan(planned):
    version = single(planned.of_type("google_secret_manager_secret_version"))
    secret = single(planned.of_type("google_secret_manager_secret"))["values"]
    assert version["values"]["secret_data_wo_version"] == 1
    assert version["values"]["deletion_policy"] == "DISABLE"
    assert version["values"].get("secret_data") is None and version["values"].get("secret_data_wo") is None
    for directory in (EXAMPLE, MODULES / "services"):  # Terraform lets an ephemeral value reach write-only args only
        assert parsed(directory)["variable"]["dump_token_key"]["ephemeral"] is True
    assert secret["secret_id"] == "bqdump-dump-token"
    plan_file = (planned.workdir / "plan.bin").read_bytes()
    with zipfile.ZipFile(planned.workdir / "plan.bin") as saved:
        saved_text = b"".join(saved.read(name) for name in saved.namelist())
    assert TOKEN_KEY.encode() not in plan_file + saved_text
    assert TOKEN_KEY not in str(planned.plan_json)
    # the functions start only once the secret has a version for "latest"
    dump = planned.functions()["dump"]
    mounted = {s["key"]: s for s in dump["service_config"][0]["secret_environment_variables"]}
    assert mounted["DUMP_TOKEN_SECRET"]["secret"] == "bqdump-dump-token"


def test_the_secret_and_every_name_follow_name_prefix(terraform_workspace):
    renamed = plan_example(terraform_workspace, "name_prefix=acme", copy_name="terraform-acme")
    assert renamed.plan.retcode == 0, renamed.plan.output
    secret = single(renamed.of_type("google_secret_manager_secret"))["values"]["secret_id"]
    assert secret == "acme-dump-token"
    for values in renamed.functions().values():
        mounted = {s["key"]: s["secret"] for s in values["service_config"][0]["secret_environment_variables"]}
        assert mounted["DUMP_TOKEN_SECRET"] == secret
        assert values["name"].startswith("acme-")
    assert single(renamed.of_type("google_cloud_tasks_queue"))["values"]["name"] == "acme-exports"
    assert renamed.plan_json["planned_values"]["outputs"]["dump_token_secret_id"]["value"] == secret


def test_a_short_token_key_is_refused(terraform_workspace):
    refused = plan_example(terraform_workspace, "dump_token_key=short", copy_name="terraform-short-key")
    assert refused.plan.retcode != 0
    assert "at least 32 characters" in refused.plan.output


# computed by the example (module outputs)
WIRED = {"source_archive", "bucket_name", "read_only_email", "read_write_email", "tasks_email", "scheduler_email",
         "name", "location", "service_names", "queue_name", "dump_host", "dump_service_name"}


@pytest.mark.parametrize("call", ["export_bucket", "identities", "services", "monitoring", "load_balancer"])
def test_every_module_knob_is_an_example_variable_with_the_same_type_and_default(call):
    example = parsed(EXAMPLE)
    module_call = example["module"][call]
    module = parsed(TERRAFORM / "examples" / "basic" / module_call["source"])
    for name, body in module["variable"].items():
        assert name in module_call, f"module {call}: variable {name} is not reachable from the example"
        if name in WIRED:
            continue
        given = module_call[name]
        match = re.fullmatch(r"\$\{var\.([a-z_]+)\}", str(given))
        assert match, f"module {call}: {name} = {given!r}, not an example variable"
        mine = example["variable"][match.group(1)]
        assert mine["type"] == body["type"], f"{call}.{name}: type {mine['type']} != module's {body['type']}"
        if "default" in body:  # a module's required input may get a default from the example (region: EU...)
            assert "default" in mine and mine["default"] == body["default"], \
                f"{call}.{name}: default {mine.get('default')!r} != module's {body['default']!r}"
        assert mine.get("ephemeral", False) == body.get("ephemeral", False), name


def test_git_ignores_local_variables_and_state():
    for path in ("terraform/examples/basic/terraform.tfvars", "terraform/examples/basic/terraform.tfstate",
                 "terraform/examples/basic/terraform.tfstate.backup", "terraform/examples/basic/.terraform/x",
                 "terraform/examples/basic/prod.auto.tfvars", "build/bqdump-source.zip"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path
    assert subprocess.run(["git", "check-ignore", "-q", "terraform/examples/basic/terraform.tfvars.example"],
                          cwd=ROOT).returncode == 1


def test_the_example_says_where_the_state_lives():
    versions = (EXAMPLE / "versions.tf").read_text()
    assert re.search(r'^# +backend "gcs" \{', versions, re.M)


def test_deploy_md_is_one_apply_with_its_shell_variables_set():
    text = (ROOT / "DEPLOY.md").read_text()
    for name in ("PROJECT", "REGION"):
        first_set = re.search(rf"^(export )?{name}=", text, re.M)
        first_use = re.search(rf"\${name}\b|\$\{{{name}\}}", text)
        assert first_set and first_use and first_set.start() < first_use.start(), name
    assert "gcloud secrets versions add" not in text  # the apply writes the key
    assert "-target=" not in text
    assert "terraform output" in text
    assert "make deploy" in text and "TF_VAR_dump_token_key" in text
