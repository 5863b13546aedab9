variable "project_id" {
  type        = string
  description = "Project that owns the export bucket."
}

variable "name" {
  type        = string
  description = "Globally unique name of the export bucket (BIGQUERY_EXPORT_BUCKET)."
}

variable "location" {
  type        = string
  description = "Bucket location. Use the BigQuery dataset's location (e.g. EU, US, europe-west1) so EXPORT DATA does not cross regions."
}

variable "dump_retention_days" {
  type        = number
  description = "Age in days after which objects under dumps/ are deleted by a lifecycle rule, a backstop to the worker's garbage collection."
  default     = 30

  validation {
    condition     = var.dump_retention_days >= 1
    error_message = "dump_retention_days must be at least 1."
  }
}

variable "access_log_bucket" {
  type        = string
  description = "Optional bucket that receives this bucket's usage logs; null turns usage logging off (Cloud Audit Logs still apply)."
  default     = null
}

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy the bucket while it still holds exports. The exports are derived data, so this is safe to enable."
  default     = false
}

variable "labels" {
  type        = map(string)
  description = "Labels applied to the bucket."
  default     = { app = "bqdump" }
}

variable "cors_origins" {
  type        = list(string)
  description = "Origins whose browser scripts may download signed URLs (the same list as the functions' CORS_ORIGINS), or [\"*\"]; empty: no CORS on the bucket."
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_origins : o == "*" || can(regex("^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", o))])
    error_message = "cors_origins holds origins (scheme://host[:port], no path or trailing slash) or \"*\"."
  }
}
