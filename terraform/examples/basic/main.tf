module "export_bucket" {
  source = "../../modules/export-bucket"

  project_id          = var.project_id
  name                = var.bucket_name
  location            = var.bucket_location
  dump_retention_days = var.dump_retention_days
  cors_origins        = var.cors_origins
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
  source_archive      = var.source_archive
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
  dump_token_secret_version = var.dump_token_secret_version
  prewarm                   = var.prewarm
  cors_origins              = var.cors_origins # the same origins as the bucket's CORS
  labels                    = var.labels
}
