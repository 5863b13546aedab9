variable "project_id" {
  type        = string
  description = "Project that hosts bqdump."
}

variable "region" {
  type        = string
  description = "Region of the functions, the queue and the scheduler job."
  default     = "europe-west1"
}

variable "name_prefix" {
  type        = string
  description = "Prefix of resource names and service account ids (at most 14 characters)."
  default     = "bqdump"
}

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset that holds the CKAN DataStore tables."
}

variable "bigquery_project_id" {
  type        = string
  description = "Project of the dataset when it differs from project_id; null means project_id."
  default     = null
}

variable "bucket_name" {
  type        = string
  description = "Globally unique name of the export bucket to create."
}

variable "bucket_location" {
  type        = string
  description = "Location of the export bucket; use the dataset's location."
  default     = "EU"
}

variable "dump_retention_days" {
  type        = number
  description = "Days after which exports under dumps/ are deleted whatever the worker's GC did."
  default     = 30
}

variable "source_archive" {
  type        = string
  description = "Source zip uploaded beforehand, as gs://BUCKET/OBJECT.zip."
}

variable "auth" {
  type = object({
    type                 = optional(string)
    ckan_url             = optional(string)
    ckan_timeout_seconds = optional(number)
    jwt_public_key       = optional(string)
    jwt_audience         = optional(string)
    jwt_issuer           = optional(string)
    jwt_resources_claim  = optional(string)
    cache_ttl_seconds    = optional(number)
  })
  description = "Access checks of the dump function; see the services module. What is left null keeps the application's default."
  default     = {}
}

variable "read_only_key_secret_id" {
  type        = string
  description = "Optional Secret Manager secret holding a read-only key for BIGQUERY_CREDENTIALS_RO."
  default     = null
}

variable "jwt_secret_secret_id" {
  type        = string
  description = "Optional Secret Manager secret holding JWT_SECRET."
  default     = null
}

variable "dump_token_secret_version" {
  type        = string
  description = "Version of the token-signing secret to mount; bump it to roll out a new key."
  default     = "latest"
}

variable "prewarm" {
  type = object({
    schedule  = optional(string, "0 4 * * *")
    time_zone = optional(string, "Etc/UTC")
    resources = optional(list(string), [])
    formats   = optional(list(string), ["csv"])
  })
  description = "Pre-warm schedule, resource ids and formats; no job while resources is empty."
  default     = {}
}

variable "cors_origins" {
  type        = list(string)
  description = "Origins whose browser scripts may call the dump URL and download exports (CKAN's ckan.cors.origin_whitelist), or [\"*\"]: the functions' CORS_ORIGINS and the bucket's CORS."
  default     = []
}

variable "labels" {
  type        = map(string)
  description = "Labels applied to every resource that accepts labels."
  default     = { app = "bqdump" }
}
