locals {
  # `make package` writes the zip here; its SHA-256 names the uploaded object, so a new release is a new object.
  source_zip    = coalesce(var.source_zip, "${path.root}/../../../build/bqdump-source.zip")
  source_sha256 = var.source_archive == null && fileexists(local.source_zip) ? filesha256(local.source_zip) : ""
  source_archive = var.source_archive != null ? var.source_archive : format("gs://%s/%s",
  module.export_bucket.name, try(google_storage_bucket_object.source[0].name, ""))
}

# The functions' source, next to the exports (objects under source/ are neither exports nor garbage-collected).
resource "google_storage_bucket_object" "source" {
  count = var.source_archive == null ? 1 : 0

  bucket       = module.export_bucket.name
  name         = "source/bqdump-${substr(local.source_sha256, 0, 16)}.zip"
  source       = local.source_zip
  content_type = "application/zip"

  lifecycle {
    precondition {
      condition     = local.source_sha256 != ""
      error_message = "No source zip at source_zip: run `make package` (or `make deploy`) from the repository root first."
    }
  }
}

module "export_bucket" {
  source = "../../modules/export-bucket"

  project_id          = var.project_id
  name                = var.bucket_name
  location            = var.bucket_location
  dump_retention_days = var.dump_retention_days
  cors_origins        = var.cors_origins
  force_destroy       = var.force_destroy
  access_log_bucket   = var.access_log_bucket
  labels              = var.labels
}

module "identities" {
  source = "../../modules/identities"

  project_id          = var.project_id
  name_prefix         = var.name_prefix
  bigquery_project_id = var.bigquery_project_id
  dataset_id          = var.dataset_id
  bucket_name         = module.export_bucket.name
}

module "services" {
  source = "../../modules/services"

  project_id          = var.project_id
  region              = var.region
  name_prefix         = var.name_prefix
  source_archive      = local.source_archive
  runtime             = var.runtime
  bigquery_project_id = var.bigquery_project_id
  dataset_id          = var.dataset_id
  bucket_name         = module.export_bucket.name

  read_only_email  = module.identities.read_only_email
  read_write_email = module.identities.read_write_email
  tasks_email      = module.identities.tasks_email
  scheduler_email  = module.identities.scheduler_email

  auth                      = var.auth
  jwt_secret_secret_id      = var.jwt_secret_secret_id
  read_only_key_secret_id   = var.read_only_key_secret_id
  dump_token_key            = var.dump_token_key
  dump_token_key_version    = var.dump_token_key_version
  dump_token_secret_version = var.dump_token_secret_version
  prewarm                   = var.prewarm
  cors_origins              = var.cors_origins # the same origins as the bucket's CORS
  labels                    = var.labels

  build_service_account       = var.build_service_account
  export_url_expiry_hours     = var.export_url_expiry_hours
  dump_wait_seconds           = var.dump_wait_seconds
  dump_worker_wait_seconds    = var.dump_worker_wait_seconds
  dump_compose                = var.dump_compose
  dump_query_max_per_resource = var.dump_query_max_per_resource
  dump_query_touch_seconds    = var.dump_query_touch_seconds
  queue                       = var.queue
  timeouts                    = var.timeouts
  scaling                     = var.scaling
}

module "monitoring" {
  source = "../../modules/monitoring"
  count  = var.monitoring ? 1 : 0

  project_id            = var.project_id
  name_prefix           = var.name_prefix
  service_names         = module.services.service_names
  queue_name            = module.services.queue_name
  dump_host             = module.services.dump_host
  notification_channels = var.notification_channels
  notification_emails   = var.notification_emails
  thresholds            = var.alert_thresholds
  labels                = var.labels
}

module "load_balancer" {
  source = "../../modules/load-balancer"
  count  = var.load_balancer ? 1 : 0

  project_id             = var.project_id
  region                 = var.region
  name_prefix            = var.name_prefix
  dump_service_name      = module.services.service_names.dump
  domains                = var.domains
  portal_backend_service = var.portal_backend_service
  portal_url             = var.portal_url
  rate_limit_per_minute  = var.rate_limit_per_minute
  labels                 = var.labels
}
