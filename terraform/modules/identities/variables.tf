variable "project_id" {
  type        = string
  description = "Project that owns the service accounts and runs the BigQuery export jobs."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the service account ids (at most 14 characters so that every id stays within 30)."
  default     = "bqdump"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,13}$", var.name_prefix))
    error_message = "name_prefix must start with a letter and hold at most 14 lowercase letters, digits or hyphens."
  }
}

variable "bigquery_project_id" {
  type        = string
  description = "Project that holds the DataStore dataset (BIGQUERY_PROJECT); null means project_id."
  default     = null
}

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset that holds the DataStore tables (BIGQUERY_DATASET)."
}

variable "bucket_name" {
  type        = string
  description = "Name of the export bucket the identities read and write."
}
