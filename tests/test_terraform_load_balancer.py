"""On the portal's own domain (optional, off by default): routes, certificate, Cloud Armor, read from real
Terraform's plan of examples/basic with the load balancer on (tests/conftest.py).

A URL map's path rules are evaluated here as Google documents them (the longest matching path wins; a path
ending in /* matches that prefix), on the planned url map; a backend Terraform has not created yet is known by
the configuration's reference to it.
"""

from __future__ import annotations

import re

import pytest

from tests.support.terraform import plan_example

PORTAL_SERVICE = "projects/my-ckan-project/global/backendServices/ckan"
COMPUTE = "google_compute_"


def single(items):
    assert isinstance(items, list) and len(items) == 1, items
    return items[0]


def one_of(deployment, resource_type: str, name: str) -> dict:
    return single([r for r in deployment.of_type(resource_type) if r["name"] == name])["values"]


def lb_config(deployment) -> dict:
    return deployment.plan_json["configuration"]["root_module"]["module_calls"]["load_balancer"]["module"]


def references(deployment, address: str, *path: str) -> list[str]:
    """What one argument of a load-balancer resource refers to, from the configuration."""
    resource = single([r for r in lb_config(deployment)["resources"] if r["address"] == address])
    expression = resource["expressions"]
    for key in path:
        expression = expression[key][0] if isinstance(expression[key], list) else expression[key]
    return expression.get("references", [])


def route(deployment, host: str, path: str) -> str:
    """Where the planned https url map sends host+path: 'dump', a backend service id, or 'redirect:HOST'."""
    url_map = one_of(deployment, "google_compute_url_map", "https")
    matcher_name = next((rule["path_matcher"] for rule in url_map["host_rule"] if host in rule["hosts"]), None)
    matcher = next((m for m in url_map["path_matcher"] if m["name"] == matcher_name), None)
    if matcher is None:
        return default(url_map)
    best = None
    for index, rule in enumerate(matcher["path_rule"]):
        for pattern in rule["paths"]:
            matches = path.startswith(pattern[:-1]) if pattern.endswith("/*") else path == pattern
            if matches and (best is None or len(pattern) > len(best[0])):
                best = (pattern, index)
    if best is None:
        return default(matcher)
    service = references(deployment, "google_compute_url_map.https", "path_matcher", "path_rule", "service")
    assert service == ["google_compute_backend_service.dump.id", "google_compute_backend_service.dump"]
    return "dump"


def default(block: dict) -> str:
    if block.get("default_service"):
        return block["default_service"]
    redirect = single(block["default_url_redirect"])
    assert redirect["https_redirect"] is True and redirect["strip_query"] is False
    return f"redirect:{redirect['host_redirect']}"


def test_no_load_balancer_by_default(planned):
    assert not [r["address"] for r in planned.resources() if r["type"].startswith(COMPUTE)]
    assert planned.plan_json["planned_values"]["outputs"]["portal_dump_url"].get("value") is None


def test_dump_paths_go_to_the_dump_function_and_the_rest_to_the_portal_url(planned_with_load_balancer):
    deployment = planned_with_load_balancer
    assert route(deployment, "portal.example.org", "/datastore/dump/5b1c0c8e-1f5e") == "dump"
    assert route(deployment, "portal.example.org", "/datastore/dump/prewarm") == "dump"
    for elsewhere in ("/", "/dataset/roads", "/datastore/dump", "/api/3/action/datastore_search"):
        assert route(deployment, "portal.example.org", elsewhere) == "redirect:ckan.example.org", elsewhere
    assert route(deployment, "other.example.org", "/datastore/dump/x") == "redirect:ckan.example.org"
    outputs = deployment.plan_json["planned_values"]["outputs"]
    assert outputs["portal_dump_url"]["value"] == "https://portal.example.org/datastore/dump"


def test_the_dump_backend_is_a_serverless_neg_of_the_planned_dump_function(planned_with_load_balancer):
    deployment = planned_with_load_balancer
    neg = one_of(deployment, "google_compute_region_network_endpoint_group", "dump")
    dump = deployment.functions()["dump"]
    assert neg["network_endpoint_type"] == "SERVERLESS" and neg["region"] == dump["location"]
    assert single(neg["cloud_run"])["service"] == dump["name"]
    backend = one_of(deployment, "google_compute_backend_service", "dump")
    assert backend["load_balancing_scheme"] == "EXTERNAL_MANAGED" and backend["protocol"] == "HTTPS"
    assert "google_compute_region_network_endpoint_group.dump" in references(
        deployment, "google_compute_backend_service.dump", "backend", "group")
    # the serverless NEG reaches the function only while its ingress admits the load balancer
    assert dump["service_config"][0]["ingress_settings"] in ("ALLOW_ALL", "ALLOW_INTERNAL_AND_GCLB")


def test_https_with_a_managed_certificate_and_http_redirected(planned_with_load_balancer):
    deployment = planned_with_load_balancer
    certificate = one_of(deployment, "google_compute_managed_ssl_certificate", "portal")
    assert single(certificate["managed"])["domains"] == ["portal.example.org"]
    https = one_of(deployment, "google_compute_global_forwarding_rule", "https")
    http = one_of(deployment, "google_compute_global_forwarding_rule", "http")
    assert (https["port_range"], http["port_range"]) == ("443", "80")
    assert https["load_balancing_scheme"] == http["load_balancing_scheme"] == "EXTERNAL_MANAGED"
    assert "google_compute_managed_ssl_certificate.portal" in references(
        deployment, "google_compute_target_https_proxy.portal", "ssl_certificates")
    for rule in ("https", "http"):  # one address for both
        assert "google_compute_global_address.portal" in references(
            deployment, f"google_compute_global_forwarding_rule.{rule}", "ip_address")
    redirect = single(one_of(deployment, "google_compute_url_map", "http")["default_url_redirect"])
    assert redirect["https_redirect"] is True and redirect["strip_query"] is False


def test_cloud_armor_limits_each_client_ip(planned_with_load_balancer):
    deployment = planned_with_load_balancer
    policy = one_of(deployment, "google_compute_security_policy", "rate_limit")
    throttle = single([r for r in policy["rule"] if r["action"] == "throttle"])
    options = single(throttle["rate_limit_options"])
    assert options["enforce_on_key"] == "IP" and options["exceed_action"] == "deny(429)"
    assert single(options["rate_limit_threshold"]) == {"count": 120, "interval_sec": 60}
    assert max(r["priority"] for r in policy["rule"]) == 2147483647  # the default rule
    assert "google_compute_security_policy.rate_limit" in references(
        deployment, "google_compute_backend_service.dump", "security_policy")


def test_an_existing_portal_backend_serves_the_rest_and_no_armor_without_a_limit(terraform_workspace):
    deployment = plan_example(terraform_workspace, "load_balancer=true", 'domains=["portal.example.org"]',
                              f"portal_backend_service={PORTAL_SERVICE}", copy_name="terraform-lb-backend")
    assert deployment.plan.retcode == 0, deployment.plan.output
    assert not re.search(r"\b(Warning|Error)\b", deployment.plan.output)
    assert route(deployment, "portal.example.org", "/datastore/dump/abc") == "dump"
    assert route(deployment, "portal.example.org", "/dataset/roads") == PORTAL_SERVICE
    assert route(deployment, "other.example.org", "/") == PORTAL_SERVICE
    assert not deployment.of_type("google_compute_security_policy")


@pytest.mark.parametrize("variables, message", [
    (("load_balancer=true",), "load_balancer = true needs domains"),
    (("load_balancer=true", 'domains=["portal.example.org"]'), "Set exactly one of portal_backend_service and"),
    (("load_balancer=true", 'domains=["portal.example.org"]', "portal_url=https://ckan.example.org",
      f"portal_backend_service={PORTAL_SERVICE}"), "Set exactly one of portal_backend_service and"),
], ids=["no-domains", "no-portal", "two-portals"])
def test_an_incomplete_load_balancer_is_refused_with_what_to_set(terraform_workspace, variables, message):
    refused = plan_example(terraform_workspace, *variables, copy_name=f"terraform-lb-refused-{len(variables)}")
    assert refused.plan.retcode != 0
    assert message in re.sub(r"\s*│\s*", " ", refused.plan.output), refused.plan.output
