variable "project_id" {
  type        = string
  description = "Project that hosts the load balancer and the dump function."
}

variable "region" {
  type        = string
  description = "Region of the dump function (its serverless network endpoint group lives there)."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the load balancer's resource names."
  default     = "bqdump"
}

variable "dump_service_name" {
  type        = string
  description = "Cloud Run service of the dump function (the services module's service_names.dump)."
}

variable "domains" {
  type        = list(string)
  description = "The portal's own host names (e.g. [\"portal.example.org\"]): the Google-managed certificate covers them, and their /datastore/dump/* goes to bqdump. Point their DNS A records at the load balancer's address."

  validation {
    condition     = length(var.domains) > 0 && alltrue([for d in var.domains : can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", d))])
    error_message = "domains holds at least one host name (lowercase, no scheme, port or path)."
  }
}

variable "portal_backend_service" {
  type        = string
  description = "Existing global backend service that serves the rest of the portal (CKAN), as its id or self link. Set this or portal_url."
  default     = null
}

variable "portal_url" {
  type        = string
  description = "Where the rest of the portal lives when it has no backend service on this load balancer, as https://HOST: every path but /datastore/dump/* is redirected there (302, path and query kept). Set this or portal_backend_service."
  default     = null

  validation {
    condition     = var.portal_url == null || can(regex("^https://[a-z0-9.-]+$", var.portal_url))
    error_message = "portal_url is https://HOST, with no path or trailing slash."
  }
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Cloud Armor: requests per minute one client IP may make to /datastore/dump/*; beyond that it gets 429 until the minute ends. null: no Cloud Armor policy."
  default     = null

  validation {
    condition     = var.rate_limit_per_minute == null || try(var.rate_limit_per_minute >= 1, false)
    error_message = "rate_limit_per_minute is at least 1, or null."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels of the address and the forwarding rules."
  default     = { app = "bqdump" }
}
