"""A stand-in `hashicorp/google` provider: serves the real provider's schema over Terraform's plugin protocol.

Runs in its own virtualenv (.venv-tfprovider, requirements-tfprovider.txt): the `tf` package brings the
tfplugin6 protos and go-plugin's handshake, but its typed schema classes cannot carry a raw JSON schema,
so the few RPCs a plan needs are answered here. Terraform core validates configurations against the
schema itself; this provider only plans (computed attributes the configuration leaves null become
unknown, as the real provider plans a create) and reads data sources (plausible values). It never applies.

    python google_provider_stand_in.py SCHEMA_JSON     (started by Terraform through a launcher script)
"""

from __future__ import annotations

import json
import sys

import tf.provider
from tf.gen import tfplugin_pb2 as pb
from tf.runner import run_provider
from tf.types import Unknown
from tf.utils import read_dynamic_value, to_dynamic_value

PROVIDER = "registry.terraform.io/hashicorp/google"
NESTING = {"single": "SINGLE", "list": "LIST", "set": "SET", "map": "MAP", "group": "GROUP"}
PROJECT_NUMBER = "123456789012"  # data.google_project.number: any 12 digits


WRITE_ONLY = b"\x58\x01"  # tfplugin6 Schema.Attribute field 11 (write_only) = true, which the `tf` package's protos predate


def attribute_pb(name: str, a: dict) -> pb.Schema.Attribute:
    attribute = pb.Schema.Attribute(name=name, type=json.dumps(a["type"]).encode(), description=a.get("description", ""),
                                    required=a.get("required", False), optional=a.get("optional", False),
                                    computed=a.get("computed", False), sensitive=a.get("sensitive", False),
                                    deprecated=a.get("deprecated", False))
    if a.get("write_only"):
        attribute.MergeFromString(WRITE_ONLY)  # kept as an unknown field and sent on to Terraform as it is
    return attribute


def block_pb(block: dict) -> pb.Schema.Block:
    attributes = [attribute_pb(name, a) for name, a in sorted(block.get("attributes", {}).items())]
    nested = [
        pb.Schema.NestedBlock(type_name=name, block=block_pb(b["block"]),
                              nesting=getattr(pb.Schema.NestedBlock, NESTING[b["nesting_mode"]]),
                              min_items=b.get("min_items", 0), max_items=b.get("max_items", 0))
        for name, b in sorted(block.get("block_types", {}).items())
    ]
    return pb.Schema.Block(attributes=attributes, block_types=nested, description=block.get("description", ""))


def schema_pb(schema: dict) -> pb.Schema:
    return pb.Schema(version=schema.get("version", 0), block=block_pb(schema["block"]))


def elements(value, nesting: str) -> list:
    if value is None or value is Unknown:
        return []
    if nesting in ("single", "group"):
        return [value]
    return list(value.values()) if nesting == "map" else list(value)


def plan_unknowns(block: dict, value: dict) -> dict:
    """A create's planned state: every computed attribute the configuration left null is unknown, and every
    write-only attribute is null (its value goes to the API, never into a plan or the state)."""
    for name, attribute in block.get("attributes", {}).items():
        if attribute.get("write_only"):
            value[name] = None
        elif attribute.get("computed") and value.get(name) is None:
            value[name] = Unknown
    for name, nested in block.get("block_types", {}).items():
        for element in elements(value.get(name), nested["nesting_mode"]):
            plan_unknowns(nested["block"], element)
    return value


def plausible(name: str, cty_type, config: dict):
    if cty_type == "string":
        if name == "number":
            return PROJECT_NUMBER
        if name in ("id", "name") and config.get("project_id"):
            return config["project_id"] if name == "name" else f"projects/{config['project_id']}"
        return f"stand-in-{name.replace('_', '-')}"
    if cty_type == "number":
        return 0
    if cty_type == "bool":
        return False
    return {} if isinstance(cty_type, list) and cty_type[0] in ("map", "object") else []


def read_values(block: dict, value: dict) -> dict:
    """A data source's state: computed attributes left null get plausible values."""
    for name, attribute in block.get("attributes", {}).items():
        if attribute.get("computed") and value.get(name) is None:
            value[name] = plausible(name, attribute["type"], value)
    return value


class SchemaServicer(tf.provider.ProviderServicer):
    """tfplugin6 Provider service answering from a `terraform providers schema -json` document."""

    def __init__(self, app):
        super().__init__(app)
        document = json.loads(open(SCHEMA_PATH).read())
        self.schema = document["provider_schemas"][PROVIDER]

    def GetMetadata(self, request, context):
        return pb.GetMetadata.Response(server_capabilities=pb.ServerCapabilities(plan_destroy=True))

    def GetProviderSchema(self, request, context):
        return pb.GetProviderSchema.Response(
            provider=schema_pb(self.schema["provider"]),
            provider_meta=pb.Schema(block=pb.Schema.Block()),
            resource_schemas={k: schema_pb(v) for k, v in self.schema["resource_schemas"].items()},
            data_source_schemas={k: schema_pb(v) for k, v in self.schema["data_source_schemas"].items()},
        )

    def ValidateProviderConfig(self, request, context):
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request, context):
        return pb.ValidateResourceConfig.Response()

    def ValidateDataResourceConfig(self, request, context):
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request, context):
        return pb.ConfigureProvider.Response()

    def UpgradeResourceState(self, request, context):
        raw = request.raw_state.json or b"null"
        return pb.UpgradeResourceState.Response(upgraded_state=to_dynamic_value(json.loads(raw)))

    def ReadResource(self, request, context):
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request, context):
        proposed = read_dynamic_value(request.proposed_new_state)
        prior = read_dynamic_value(request.prior_state)
        if proposed is not None and prior is None:
            proposed = plan_unknowns(self.schema["resource_schemas"][request.type_name]["block"], proposed)
        return pb.PlanResourceChange.Response(planned_state=to_dynamic_value(proposed))

    def ReadDataSource(self, request, context):
        config = read_dynamic_value(request.config)
        state = read_values(self.schema["data_source_schemas"][request.type_name]["block"], config)
        return pb.ReadDataSource.Response(state=to_dynamic_value(state))

    def ApplyResourceChange(self, request, context):
        error = pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary="The stand-in google provider never applies.")
        return pb.ApplyResourceChange.Response(diagnostics=[error])


class _Name:
    def full_name(self) -> str:
        return PROVIDER


if __name__ == "__main__":
    SCHEMA_PATH = sys.argv[1]
    tf.provider.ProviderServicer = SchemaServicer  # run_provider builds its servicer from this name
    run_provider(_Name(), sys.argv[:1])
