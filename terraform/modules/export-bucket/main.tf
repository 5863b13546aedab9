# Exports are derived data that the worker rewrites and garbage-collects, so the bucket keeps no
# history: no versioning and no Soft Delete (deleted revisions would stay billable for the window).
resource "google_storage_bucket" "exports" {
  #checkov:skip=CKV_GCP_78:Exports are regenerated from BigQuery on demand; versioning would keep every garbage-collected revision billable.
  #checkov:skip=CKV_GCP_62:Usage logging is opt-in through var.access_log_bucket; Cloud Audit Logs already record object access.
  project  = var.project_id
  name     = var.name
  location = var.location
  labels   = var.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy

  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    condition {
      age            = var.dump_retention_days
      matches_prefix = ["dumps/"]
    }
    action {
      type = "Delete"
    }
  }

  # Browser downloads of signed URLs (CORS_ORIGINS on the functions takes the same list): GET and HEAD, a
  # Range request header, and scripts may read the length, range and ETag of what they fetched.
  dynamic "cors" {
    for_each = length(var.cors_origins) == 0 ? [] : [var.cors_origins]
    content {
      origin          = cors.value
      method          = ["GET", "HEAD"]
      response_header = ["Range", "Content-Type", "Content-Length", "Content-Range", "ETag", "Content-Disposition"]
      max_age_seconds = 3600
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      log_bucket = logging.value
    }
  }
}
