data "google_project" "this" {
  project_id = var.project_id
}

locals {
  bigquery_project_id = coalesce(var.bigquery_project_id, var.project_id)
  source              = regex("^gs://([^/]+)/(.+)$", var.source_archive)

  # Cloud Run's deterministic URLs (https://SERVICE-PROJECT_NUMBER.REGION.run.app) are known before the
  # services exist: every service URL is derived from names, never from a service's own creation.
  names = {
    dump   = "${var.name_prefix}-dump"
    worker = "${var.name_prefix}-export-worker"
    stream = "${var.name_prefix}-stream"
  }
  urls = { for key, name in local.names : key => "https://${name}-${data.google_project.this.number}.${var.region}.run.app" }

  queue_path = "projects/${var.project_id}/locations/${var.region}/queues/${google_cloud_tasks_queue.exports.name}"

  # Settings left null stay unset: the application's defaults (functions/settings.py) are the only ones.
  optional_env = {
    BIGQUERY_EXPORT_URL_EXPIRY_HOURS = var.export_url_expiry_hours
    DUMP_WAIT_SECONDS                = var.dump_wait_seconds
    DUMP_WORKER_WAIT_SECONDS         = var.dump_worker_wait_seconds
    DUMP_COMPOSE                     = var.dump_compose
    AUTH_TYPE                        = var.auth.type
    CKAN_URL                         = var.auth.ckan_url
    CKAN_TIMEOUT_SECONDS             = var.auth.ckan_timeout_seconds
    JWT_PUBLIC_KEY                   = var.auth.jwt_public_key
    JWT_AUDIENCE                     = var.auth.jwt_audience
    JWT_ISSUER                       = var.auth.jwt_issuer
    JWT_RESOURCES_CLAIM              = var.auth.jwt_resources_claim
    AUTH_CACHE_TTL_SECONDS           = var.auth.cache_ttl_seconds
    CORS_ORIGINS                     = length(var.cors_origins) > 0 ? join(" ", var.cors_origins) : null
    DUMP_QUERY_MAX_PER_RESOURCE      = var.dump_query_max_per_resource
    DUMP_QUERY_TOUCH_SECONDS         = var.dump_query_touch_seconds
  }

  # One environment for all three targets: each checks every setting at start-up (main.py).
  app_env = merge({ for name, value in local.optional_env : name => tostring(value) if value != null }, {
    DUMP_BACKEND                    = "google"
    BIGQUERY_PROJECT                = local.bigquery_project_id
    BIGQUERY_DATASET                = var.dataset_id
    BIGQUERY_EXPORT_BUCKET          = var.bucket_name
    TASKS_QUEUE                     = local.queue_path
    TASKS_DISPATCH_DEADLINE_SECONDS = tostring(var.timeouts.worker) # a delivery ends inside the worker's timeout
    WORKER_URL                      = local.urls.worker
    WORKER_AUDIENCE                 = local.urls.worker
    TASKS_SERVICE_ACCOUNT           = var.tasks_email
    STREAM_URL                      = local.urls.stream
    STREAM_TIMEOUT_SECONDS          = tostring(var.timeouts.stream) # a follower answers 503 before the platform cuts it
    SIGNING_SERVICE_ACCOUNT         = var.read_write_email
    PREWARM_AUDIENCE                = local.urls.dump
    PREWARM_SERVICE_ACCOUNT         = var.scheduler_email
    THREADS                         = tostring(var.scaling.request_concurrency) # functions-framework: one thread per request slot
    WORKERS                         = "1"
    DUMP_TASK_MAX_ATTEMPTS          = tostring(var.queue.max_attempts) # the worker records a failure on the last delivery
  })

  token_secret = { DUMP_TOKEN_SECRET = { secret = google_secret_manager_secret.dump_token.secret_id, version = var.dump_token_secret_version } }

  # The three targets differ only here.
  functions = {
    dump = {
      entry_point = "dump"
      identity    = "read_write" # signs URLs (signBlob) and enqueues tasks
      ingress     = "ALLOW_ALL"  # CKAN users follow download links here; AUTH_TYPE decides
      timeout     = var.timeouts.dump
      secrets = merge(
        local.token_secret,
        var.jwt_secret_secret_id == null ? {} : { JWT_SECRET = { secret = var.jwt_secret_secret_id, version = "latest" } },
        var.read_only_key_secret_id == null ? {} : { BIGQUERY_CREDENTIALS_RO = { secret = var.read_only_key_secret_id, version = "latest" } },
      )
    }
    worker = {
      entry_point = "export_worker"
      identity    = "read_write"
      ingress     = "ALLOW_INTERNAL_ONLY" # Cloud Tasks in the same project counts as internal
      timeout     = var.timeouts.worker
      secrets     = local.token_secret
    }
    stream = {
      entry_point = "stream"
      identity    = "read_only" # only reads objects
      ingress     = "ALLOW_ALL" # browsers download from it; every request carries an HMAC token
      timeout     = var.timeouts.stream
      secrets     = local.token_secret
    }
  }

  # Who may invoke which target (run.invoker on the function's Cloud Run service, named like the function).
  invokers = {
    dump_public    = { function = "dump", member = "allUsers" }
    dump_scheduler = { function = "dump", member = "serviceAccount:${var.scheduler_email}" } # keeps pre-warm working if allUsers goes
    stream_public  = { function = "stream", member = "allUsers" }
    worker_tasks   = { function = "worker", member = "serviceAccount:${var.tasks_email}" }
  }

  identities = { read_write = var.read_write_email, read_only = var.read_only_email }

  # Who may read which secret: each function's identity, for the secrets mounted into it.
  secret_readers = merge([
    for key, function in local.functions : {
      for env_name, secret in function.secrets : "${function.identity}/${env_name}" => {
        secret = secret.secret
        member = "serviceAccount:${local.identities[function.identity]}"
      }
    }
  ]...)
}

# HMAC key of the streaming tokens (DUMP_TOKEN_SECRET). The value reaches Secret Manager through a write-only
# argument from an ephemeral variable: it is sent when dump_token_key_version changes, and never lands in a plan
# or in the state.
resource "google_secret_manager_secret" "dump_token" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-dump-token"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "dump_token" {
  secret                 = google_secret_manager_secret.dump_token.id
  secret_data_wo         = var.dump_token_key
  secret_data_wo_version = var.dump_token_key_version
  deletion_policy        = "DISABLE" # a rotation disables the old key (it can be enabled again), never destroys it

  lifecycle {
    create_before_destroy = true # the secret always has an enabled version for "latest"
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

# The three targets from one table (local.functions). Cloud Functions gen2 builds the zip and runs each as a
# Cloud Run service (60-minute requests, chunked responses).
resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:dump and stream are public by design (download links, each request authorised or token-checked); the worker is internal-only.
  for_each = local.functions

  project  = var.project_id
  location = var.region
  name     = local.names[each.key]
  labels   = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = each.value.entry_point
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = local.source[0]
        object = local.source[1]
      }
    }
  }

  service_config {
    service_account_email            = local.identities[each.value.identity]
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true
    timeout_seconds                  = each.value.timeout
    available_memory                 = var.scaling.available_memory
    available_cpu                    = var.scaling.available_cpu
    max_instance_request_concurrency = var.scaling.request_concurrency
    max_instance_count               = var.scaling.max_instance_count
    environment_variables            = local.app_env

    dynamic "secret_environment_variables" {
      for_each = each.value.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret
        version    = secret_environment_variables.value.version
      }
    }
  }

  depends_on = [google_secret_manager_secret_iam_member.readers, google_secret_manager_secret_version.dump_token]
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
    uri         = "${local.urls.dump}/datastore/dump/prewarm"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ resources = var.prewarm.resources, formats = var.prewarm.formats }))

    oidc_token {
      service_account_email = var.scheduler_email
      audience              = local.urls.dump
    }
  }

  depends_on = [google_cloudfunctions2_function.this["dump"]]
}

# Gen2 functions are Cloud Run services of the same name: invocation is run.invoker on that service.
resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = local.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

resource "google_cloud_tasks_queue_iam_member" "read_write_enqueues" {
  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.exports.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${var.read_write_email}"
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each = local.secret_readers

  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
