# A global external Application Load Balancer on the portal's own domain: /datastore/dump/* goes to the dump
# function through a serverless network endpoint group, everything else to the portal. CKAN's download links
# keep their address, and CKAN's cookies reach the dump function (AUTH_TYPE=ckan needs them).

locals {
  portal_host = var.portal_url == null ? null : trimprefix(var.portal_url, "https://")
}

resource "google_compute_region_network_endpoint_group" "dump" {
  project               = var.project_id
  region                = var.region
  name                  = "${var.name_prefix}-dump-neg"
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = var.dump_service_name # a gen2 function is a Cloud Run service of the same name
  }
}

resource "google_compute_backend_service" "dump" {
  project               = var.project_id
  name                  = "${var.name_prefix}-dump"
  description           = "bqdump's dump function (serverless NEG)."
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = one(google_compute_security_policy.rate_limit[*].id)

  backend {
    group = google_compute_region_network_endpoint_group.dump.id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "https" {
  project         = var.project_id
  name            = "${var.name_prefix}-portal"
  description     = "/datastore/dump/* to bqdump, the rest to the portal."
  default_service = var.portal_backend_service

  dynamic "default_url_redirect" {
    for_each = local.portal_host == null ? [] : [local.portal_host]
    content {
      host_redirect          = default_url_redirect.value
      https_redirect         = true
      redirect_response_code = "FOUND"
      strip_query            = false
    }
  }

  host_rule {
    hosts        = var.domains
    path_matcher = "portal"
  }

  path_matcher {
    name            = "portal"
    default_service = var.portal_backend_service

    dynamic "default_url_redirect" {
      for_each = local.portal_host == null ? [] : [local.portal_host]
      content {
        host_redirect          = default_url_redirect.value
        https_redirect         = true
        redirect_response_code = "FOUND"
        strip_query            = false
      }
    }

    path_rule {
      paths   = ["/datastore/dump/*"]
      service = google_compute_backend_service.dump.id
    }
  }

  lifecycle {
    precondition {
      condition     = (var.portal_backend_service == null) != (var.portal_url == null)
      error_message = "Set exactly one of portal_backend_service and portal_url: where everything but /datastore/dump/* goes."
    }
  }
}

resource "google_compute_managed_ssl_certificate" "portal" {
  project = var.project_id
  name    = "${var.name_prefix}-portal"

  managed {
    domains = var.domains
  }
}

resource "google_compute_target_https_proxy" "portal" {
  # TLS versions: Google's default SSL policy (the schema checked here has no google_compute_ssl_policy to pin one).
  project          = var.project_id
  name             = "${var.name_prefix}-portal"
  url_map          = google_compute_url_map.https.id
  ssl_certificates = [google_compute_managed_ssl_certificate.portal.id]
}

resource "google_compute_global_address" "portal" {
  project      = var.project_id
  name         = "${var.name_prefix}-portal"
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
  labels       = var.labels
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "${var.name_prefix}-portal-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  ip_address            = google_compute_global_address.portal.id
  target                = google_compute_target_https_proxy.portal.id
  labels                = var.labels
}

# Plain HTTP on the same address only redirects to HTTPS.
resource "google_compute_url_map" "http" {
  project = var.project_id
  name    = "${var.name_prefix}-portal-http"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "portal" {
  project = var.project_id
  name    = "${var.name_prefix}-portal-http"
  url_map = google_compute_url_map.http.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "${var.name_prefix}-portal-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "80"
  ip_address            = google_compute_global_address.portal.id
  target                = google_compute_target_http_proxy.portal.id
  labels                = var.labels
}

# Optional per-client-IP rate limit on the dump backend (Cloud Armor), plus the Log4j canary rule.
resource "google_compute_security_policy" "rate_limit" {
  count = var.rate_limit_per_minute == null ? 0 : 1

  project     = var.project_id
  name        = "${var.name_prefix}-dump-rate-limit"
  description = "At most ${coalesce(var.rate_limit_per_minute, 0)} dump requests per minute per client IP."

  rule {
    action      = "deny(403)"
    priority    = 900
    description = "Log4j lookups (CVE-2021-44228) in any request."
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    action      = "throttle"
    priority    = 1000
    description = "Per-IP rate limit."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = coalesce(var.rate_limit_per_minute, 1)
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Everything else."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}
