locals {
  bigquery_project_id = coalesce(var.bigquery_project_id, var.project_id)

  # Google forms a service account's email from its id and project, so the emails (and every env var and
  # IAM member built from them) are known when Terraform plans, not only after the accounts exist.
  accounts = {
    read_only  = google_service_account.read_only
    read_write = google_service_account.read_write
    tasks      = google_service_account.tasks
    scheduler  = google_service_account.scheduler
  }
  emails  = { for key, account in local.accounts : key => "${account.account_id}@${account.project}.iam.gserviceaccount.com" }
  members = { for key, email in local.emails : key => "serviceAccount:${email}" }
}

# Runtime of the streaming function, and the optional BIGQUERY_CREDENTIALS_RO of the dump function:
# reads table metadata and published exports, nothing else.
resource "google_service_account" "read_only" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-ro"
  display_name = "bqdump read-only"
  description  = "Reads BigQuery table metadata and published exports."
}

# Runtime of the dump function and of the worker: runs EXPORT DATA jobs, writes and deletes exports,
# signs URLs through IAM signBlob (no private key exists on Cloud Run) and enqueues tasks.
resource "google_service_account" "read_write" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-rw"
  display_name = "bqdump read-write"
  description  = "Runs BigQuery exports, manages export objects, signs download URLs."
}

# Identity whose OIDC token Cloud Tasks attaches when it calls the worker (TASKS_SERVICE_ACCOUNT).
resource "google_service_account" "tasks" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-tasks"
  display_name = "bqdump Cloud Tasks caller"
  description  = "Invokes the export worker on behalf of Cloud Tasks."
}

# Identity whose OIDC token Cloud Scheduler attaches to the pre-warm call (PREWARM_SERVICE_ACCOUNT).
resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-prewarm"
  display_name = "bqdump pre-warm scheduler"
  description  = "Calls the dump function's pre-warm endpoint on behalf of Cloud Scheduler."
}

resource "google_bigquery_dataset_iam_member" "read_only_metadata" {
  project    = local.bigquery_project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.metadataViewer"
  member     = local.members.read_only
}

resource "google_storage_bucket_iam_member" "read_only_objects" {
  bucket = var.bucket_name
  role   = "roles/storage.objectViewer"
  member = local.members.read_only
}

# bigquery.jobs.create exists only at project level; every data permission stays on the dataset.
resource "google_project_iam_member" "read_write_job_user" {
  project = local.bigquery_project_id
  role    = "roles/bigquery.jobUser"
  member  = local.members.read_write
}

resource "google_bigquery_dataset_iam_member" "read_write_data" {
  project    = local.bigquery_project_id
  dataset_id = var.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = local.members.read_write
}

resource "google_storage_bucket_iam_member" "read_write_objects" {
  bucket = var.bucket_name
  role   = "roles/storage.objectAdmin"
  member = local.members.read_write
}

# signBlob on itself: V4 signed URLs for SIGNING_SERVICE_ACCOUNT without a key file.
resource "google_service_account_iam_member" "read_write_signs_as_itself" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${local.emails.read_write}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.members.read_write
}

# Creating a task that carries an OIDC token for the tasks identity requires actAs on it.
resource "google_service_account_iam_member" "read_write_acts_as_tasks" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${local.emails.tasks}"
  role               = "roles/iam.serviceAccountUser"
  member             = local.members.read_write
}
