"""Shared fixtures: real local apps over real files, and the local server on a free port."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings


from functions.adapters.system_clock import SYSTEM_CLOCK
from functions.ports import Clock
from functions.wiring import App, build_app
from tests.support.app import LiveServer, local_env
from tests.support.ckan_stub import ckan_stub  # noqa: F401  (a fixture for every test)
from tests.support.emulators import bigquery_emulator, gcs_emulator, tasks_emulator  # noqa: F401  (fixtures)
from tests.support.terraform import PlannedDeployment, Terraform, plan_example

DATA = Path(__file__).parent / "data"

# Property tests: enough examples to meet the rare classes (Unicode digits, 5,000-digit numbers); no
# per-example deadline, since two cores are shared with other work.
settings.register_profile("bqdump", max_examples=300, deadline=None)
settings.load_profile("bqdump")


@pytest.fixture
def make_app(tmp_path):
    """make_app(**env) builds the app as main.py does, from local settings plus `env` (and a test's clock);
    closed at teardown."""
    built = []

    def make(clock: Clock = SYSTEM_CLOCK, **overrides) -> App:
        app = build_app(local_env(tmp_path / f"bqdump{len(built)}", **overrides), clock)
        built.append(app)
        return app

    yield make
    for app in built:
        app.close()


@pytest.fixture
def serve():
    """serve(app) (or serve(doors)) starts the local server on a free port; the test's teardown stops it."""
    servers = []

    def start(app_or_doors) -> LiveServer:
        live = LiveServer(getattr(app_or_doors, "doors", app_or_doors)).__enter__()
        servers.append(live)
        return live

    yield start
    for live in servers:
        live.__exit__()


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "\n" + "".join(row + "\n" for row in rows))
    return path


@pytest.fixture(scope="session")
def terraform_workspace(tmp_path_factory) -> Terraform:
    """Real Terraform core with the stand-in google provider in a local plugin dir (one per run)."""
    return Terraform(tmp_path_factory.mktemp("terraform"))


@pytest.fixture(scope="session")
def planned(terraform_workspace) -> PlannedDeployment:
    """terraform/examples/basic initialised, validated and planned once per run, with its example variables.

    BQDUMP_TFVARS (an absolute path) plans an operator's variables instead: `make rehearse TFVARS=...`.
    """
    return plan_example(terraform_workspace, var_file=os.environ.get("BQDUMP_TFVARS") or "terraform.tfvars.example")


LOAD_BALANCER = ("load_balancer=true", 'domains=["portal.example.org"]', "portal_url=https://ckan.example.org",
                 "rate_limit_per_minute=120")  # every optional piece of the example on


@pytest.fixture(scope="session")
def planned_with_load_balancer(terraform_workspace) -> PlannedDeployment:
    """examples/basic planned with its example variables and the load balancer on (portal_url, Cloud Armor)."""
    return plan_example(terraform_workspace, *LOAD_BALANCER, copy_name="terraform-load-balancer")
