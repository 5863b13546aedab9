data "google_project" "this" {
  project_id = var.project_id
}

locals {
  bigquery_project_id = coalesce(var.bigquery_project_id, var.project_id)
  source              = regex("^gs://([^/]+)/(.+)$", var.source_archive)

  dump_name   = "${var.name_prefix}-dump"
  worker_name = "${var.name_prefix}-export-worker"
  stream_name = "${var.name_prefix}-stream"

  # Cloud Run's deterministic URLs (https://SERVICE-PROJECT_NUMBER.REGION.run.app) are known before the
  # services exist, so a service can be told its own URL (OIDC audience) without a dependency cycle.
  dump_base_url = "https://${local.dump_name}-${data.google_project.this.number}.${var.region}.run.app"
  worker_url    = "https://${local.worker_name}-${data.google_project.this.number}.${var.region}.run.app"

  queue_path = "projects/${var.project_id}/locations/${var.region}/queues/${google_cloud_tasks_queue.exports.name}"

  common_env = {
    DUMP_BACKEND                     = "google"
    BIGQUERY_PROJECT                 = local.bigquery_project_id
    BIGQUERY_DATASET                 = var.dataset_id
    BIGQUERY_EXPORT_BUCKET           = var.bucket_name
    BIGQUERY_EXPORT_URL_EXPIRY_HOURS = tostring(var.export_url_expiry_hours)
    DUMP_COMPOSE                     = tostring(var.dump_compose)
  }

  auth_env = {
    for name, value in {
      AUTH_TYPE              = var.auth.type
      CKAN_URL               = var.auth.ckan_url
      CKAN_TIMEOUT_SECONDS   = tostring(var.auth.ckan_timeout_seconds)
      JWT_PUBLIC_KEY         = var.auth.jwt_public_key
      JWT_AUDIENCE           = var.auth.jwt_audience
      JWT_ISSUER             = var.auth.jwt_issuer
      JWT_RESOURCES_CLAIM    = var.auth.jwt_resources_claim
      AUTH_CACHE_TTL_SECONDS = tostring(var.auth.cache_ttl_seconds)
    } : name => value if value != ""
  }

  app_env = merge(local.common_env, local.auth_env, {
    TASKS_QUEUE             = local.queue_path
    WORKER_URL              = local.worker_url
    WORKER_AUDIENCE         = local.worker_url
    TASKS_SERVICE_ACCOUNT   = var.tasks_email
    STREAM_URL              = google_cloudfunctions2_function.stream.service_config[0].uri
    SIGNING_SERVICE_ACCOUNT = var.read_write_email
    PREWARM_AUDIENCE        = local.dump_base_url
    PREWARM_SERVICE_ACCOUNT = var.scheduler_email
    DUMP_WAIT_SECONDS       = tostring(var.dump_wait_seconds)
    # The worker records an unfinished attempt as failed on the queue's last delivery: it counts the same.
    DUMP_TASK_MAX_ATTEMPTS = tostring(var.queue.max_attempts)
  })

  # Secret env vars of the dump function: the token key always, the other two when configured.
  dump_secrets = merge(
    { DUMP_TOKEN_SECRET = { secret = google_secret_manager_secret.dump_token.secret_id, version = var.dump_token_secret_version } },
    var.jwt_secret_secret_id == null ? {} : { JWT_SECRET = { secret = var.jwt_secret_secret_id, version = "latest" } },
    var.read_only_key_secret_id == null ? {} : { BIGQUERY_CREDENTIALS_RO = { secret = var.read_only_key_secret_id, version = "latest" } },
  )
}

# HMAC key of the streaming tokens (DUMP_TOKEN_SECRET). Terraform creates only the container: a value
# generated or passed here would be stored in the state in plain text. DEPLOY.md adds the versions.
resource "google_secret_manager_secret" "dump_token" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-dump-token"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_cloud_tasks_queue" "exports" {
  project  = var.project_id
  location = var.region
  name     = "${var.name_prefix}-exports"

  rate_limits {
    max_dispatches_per_second = var.queue.max_dispatches_per_second
    max_concurrent_dispatches = var.queue.max_concurrent_dispatches
  }

  retry_config {
    max_attempts       = var.queue.max_attempts
    max_retry_duration = var.queue.max_retry_duration
    min_backoff        = var.queue.min_backoff
    max_backoff        = var.queue.max_backoff
    max_doublings      = var.queue.max_doublings
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }
}

# Streaming function: public, every request must carry a short-lived HMAC token (DUMP_TOKEN_SECRET).
# Deployed through Cloud Functions gen2, which builds the zip and runs it as a Cloud Run service
# (60-minute requests, chunked responses); it runs as the read-only identity since it only reads objects.
resource "google_cloudfunctions2_function" "stream" {
  #checkov:skip=CKV_GCP_124:Browsers download from the stream directly, so ingress must be public; each request must carry a short-lived HMAC token.
  project  = var.project_id
  location = var.region
  name     = local.stream_name
  labels   = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "stream"
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = local.source[0]
        object = local.source[1]
      }
    }
  }

  service_config {
    service_account_email            = var.read_only_email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    timeout_seconds                  = var.timeouts.stream
    available_memory                 = var.scaling.available_memory
    available_cpu                    = var.scaling.available_cpu
    max_instance_request_concurrency = var.scaling.request_concurrency
    max_instance_count               = var.scaling.max_instance_count
    environment_variables            = local.app_env # one environment for all three: settings are checked at start-up

    secret_environment_variables {
      key        = "DUMP_TOKEN_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.dump_token.secret_id
      version    = var.dump_token_secret_version
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.read_only_reads_dump_token]
}

# Export worker: private. Ingress is internal (Cloud Tasks in the same project counts as internal) and
# only the tasks identity holds run.invoker; the worker also checks the OIDC audience itself.
resource "google_cloudfunctions2_function" "worker" {
  project  = var.project_id
  location = var.region
  name     = local.worker_name
  labels   = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "export_worker"
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = local.source[0]
        object = local.source[1]
      }
    }
  }

  service_config {
    service_account_email            = var.read_write_email
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true
    timeout_seconds                  = var.timeouts.worker
    available_memory                 = var.scaling.available_memory
    available_cpu                    = var.scaling.available_cpu
    max_instance_request_concurrency = var.scaling.request_concurrency
    max_instance_count               = var.scaling.max_instance_count
    environment_variables            = local.app_env

    secret_environment_variables {
      key        = "DUMP_TOKEN_SECRET"
      project_id = var.project_id
      secret     = google_secret_manager_secret.dump_token.secret_id
      version    = var.dump_token_secret_version
    }
  }
}

# Dump function: public HTTP entry point. It signs URLs (signBlob as the read-write identity) and
# enqueues tasks, so it runs as the read-write identity; BIGQUERY_CREDENTIALS_RO may narrow its reads.
resource "google_cloudfunctions2_function" "dump" {
  #checkov:skip=CKV_GCP_124:CKAN users follow download links to this endpoint, so ingress must be public; it authorizes each request itself (AUTH_TYPE).
  project  = var.project_id
  location = var.region
  name     = local.dump_name
  labels   = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = "dump"
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = local.source[0]
        object = local.source[1]
      }
    }
  }

  service_config {
    service_account_email            = var.read_write_email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    timeout_seconds                  = var.timeouts.dump
    available_memory                 = var.scaling.available_memory
    available_cpu                    = var.scaling.available_cpu
    max_instance_request_concurrency = var.scaling.request_concurrency
    max_instance_count               = var.scaling.max_instance_count
    environment_variables            = local.app_env

    dynamic "secret_environment_variables" {
      for_each = local.dump_secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.read_write_reads_dump_token,
    google_secret_manager_secret_iam_member.read_write_reads_jwt_secret,
    google_secret_manager_secret_iam_member.read_write_reads_read_only_key,
  ]
}

resource "google_cloud_scheduler_job" "prewarm" {
  count = length(var.prewarm.resources) > 0 ? 1 : 0

  project          = var.project_id
  region           = var.region
  name             = "${var.name_prefix}-prewarm"
  description      = "Exports popular DataStore tables ahead of demand."
  schedule         = var.prewarm.schedule
  time_zone        = var.prewarm.time_zone
  attempt_deadline = "600s"

  retry_config {
    retry_count = 1
  }

  http_target {
    http_method = "POST"
    uri         = "${local.dump_base_url}/datastore/dump/prewarm"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ resources = var.prewarm.resources, formats = var.prewarm.formats }))

    oidc_token {
      service_account_email = var.scheduler_email
      audience              = local.dump_base_url
    }
  }

  depends_on = [google_cloudfunctions2_function.dump]
}

# Gen2 functions are Cloud Run services: invocation is run.invoker on the underlying service.
resource "google_cloud_run_v2_service_iam_member" "dump_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.dump.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Redundant while the dump function is public; keeps pre-warm working if allUsers is ever removed.
resource "google_cloud_run_v2_service_iam_member" "dump_scheduler" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.dump.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.scheduler_email}"
}

resource "google_cloud_run_v2_service_iam_member" "stream_public" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.stream.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "worker_tasks" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.worker.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.tasks_email}"
}

resource "google_cloud_tasks_queue_iam_member" "read_write_enqueues" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.exports.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${var.read_write_email}"
}

resource "google_secret_manager_secret_iam_member" "read_write_reads_dump_token" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.dump_token.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.read_write_email}"
}

resource "google_secret_manager_secret_iam_member" "read_only_reads_dump_token" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.dump_token.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.read_only_email}"
}

resource "google_secret_manager_secret_iam_member" "read_write_reads_jwt_secret" {
  count = var.jwt_secret_secret_id == null ? 0 : 1

  project   = var.project_id
  secret_id = var.jwt_secret_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.read_write_email}"
}

resource "google_secret_manager_secret_iam_member" "read_write_reads_read_only_key" {
  count = var.read_only_key_secret_id == null ? 0 : 1

  project   = var.project_id
  secret_id = var.read_only_key_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.read_write_email}"
}
