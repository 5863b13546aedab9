variable "project_id" {
  type        = string
  description = "Project that hosts the functions, the queue, the scheduler job and the secret."
}

variable "region" {
  type        = string
  description = "Region of the functions, the Cloud Tasks queue and the Cloud Scheduler job."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (functions, queue, secret, scheduler job)."
  default     = "bqdump"
}

variable "source_archive" {
  type        = string
  description = "Pre-uploaded source zip (main.py, functions/, jobs/, requirements.txt) as gs://BUCKET/OBJECT. Upload a new object name per release so the functions redeploy."

  validation {
    condition     = can(regex("^gs://[^/]+/.+\\.zip$", var.source_archive))
    error_message = "source_archive must look like gs://BUCKET/path/to/source.zip."
  }
}

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime of all three targets."
  default     = "python311"
}

variable "build_service_account" {
  type        = string
  description = "Optional service account Cloud Build uses to build the functions, as projects/PROJECT/serviceAccounts/EMAIL; null keeps the project default."
  default     = null
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
  description = "Export bucket (BIGQUERY_EXPORT_BUCKET)."
}

variable "read_only_email" {
  type        = string
  description = "Read-only service account: runtime of the streaming function."
}

variable "read_write_email" {
  type        = string
  description = "Read-write service account: runtime of the dump function and the worker, and SIGNING_SERVICE_ACCOUNT."
}

variable "tasks_email" {
  type        = string
  description = "Identity whose OIDC token Cloud Tasks attaches when it calls the worker (TASKS_SERVICE_ACCOUNT)."
}

variable "scheduler_email" {
  type        = string
  description = "Identity whose OIDC token Cloud Scheduler attaches to the pre-warm call (PREWARM_SERVICE_ACCOUNT)."
}

variable "export_url_expiry_hours" {
  type        = number
  description = "Lifetime of the signed download URLs in hours (BIGQUERY_EXPORT_URL_EXPIRY_HOURS); V4 signed URLs live at most 7 days. null: the application's default."
  default     = null

  validation {
    condition     = var.export_url_expiry_hours == null ? true : var.export_url_expiry_hours >= 1 && var.export_url_expiry_hours <= 168
    error_message = "export_url_expiry_hours must be between 1 and 168."
  }
}

variable "dump_wait_seconds" {
  type        = number
  description = "How long a dump request waits for a fresh export before answering that it is being prepared (DUMP_WAIT_SECONDS). null: the application's default."
  default     = null
}

variable "dump_worker_wait_seconds" {
  type        = number
  description = "How long one worker delivery waits for its export job before answering 503 to be retried (DUMP_WORKER_WAIT_SECONDS); plus 60 s of assembly it must fit in timeouts.worker. null: the application's default."
  default     = null
}

variable "dump_compose" {
  type        = bool
  description = "Compose multi-file exports into one object instead of streaming them (DUMP_COMPOSE). null: the application's default."
  default     = null
}

variable "cors_origins" {
  type        = list(string)
  description = "Origins whose browser scripts may call the dump URL (CORS_ORIGINS; CKAN's ckan.cors.origin_whitelist), or [\"*\"]; the bucket's CORS takes the same list. Empty: no CORS headers."
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_origins : o == "*" || can(regex("^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", o))]) && (length(var.cors_origins) <= 1 || !contains(var.cors_origins, "*"))
    error_message = "cors_origins holds origins (scheme://host[:port], no path or trailing slash), or \"*\" alone."
  }
}

variable "dump_query_max_per_resource" {
  type        = number
  description = "Distinct filtered (CKAN query) dumps kept per resource (DUMP_QUERY_MAX_PER_RESOURCE). null: the application's default."
  default     = null

  validation {
    condition     = var.dump_query_max_per_resource == null || try(var.dump_query_max_per_resource >= 1 && floor(var.dump_query_max_per_resource) == var.dump_query_max_per_resource, false)
    error_message = "dump_query_max_per_resource is a whole number of at least 1."
  }
}

variable "dump_query_touch_seconds" {
  type        = number
  description = "A cache hit on a query dump records its request at most this often (DUMP_QUERY_TOUCH_SECONDS). null: the application's default."
  default     = null

  validation {
    condition     = var.dump_query_touch_seconds == null || try(var.dump_query_touch_seconds >= 0, false)
    error_message = "dump_query_touch_seconds is 0 or more."
  }
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
  description = <<-EOT
    Access checks of the dump function: type is AUTH_TYPE (anonymous, ckan or jwt); ckan_url, ckan_timeout_seconds,
    jwt_public_key, jwt_audience, jwt_issuer and jwt_resources_claim map to the env vars of the same names, and
    cache_ttl_seconds to AUTH_CACHE_TTL_SECONDS. What is left null stays unset: the application's default rules.
  EOT
  default     = {}

  validation {
    condition     = var.auth.type == null ? true : contains(["anonymous", "ckan", "jwt"], var.auth.type)
    error_message = "auth.type must be anonymous, ckan or jwt."
  }
}

variable "jwt_secret_secret_id" {
  type        = string
  description = "Optional Secret Manager secret id (in project_id) holding the HS256 key, mounted into the dump function as JWT_SECRET."
  default     = null
}

variable "read_only_key_secret_id" {
  type        = string
  description = "Optional Secret Manager secret id (in project_id) holding a read-only service account key, mounted into the dump function as BIGQUERY_CREDENTIALS_RO. Create it yourself: terraform never creates keys, they would sit in the state in plain text."
  default     = null
}

variable "dump_token_key" {
  type        = string
  description = "Value of the streaming-token HMAC key (DUMP_TOKEN_SECRET), at least 32 characters, e.g. `openssl rand -base64 48`. Ephemeral and write-only: sent to Secret Manager only when dump_token_key_version changes (the first apply, a rotation), never stored in a plan or the state, so later applies may pass any value."
  ephemeral   = true
  sensitive   = true
  nullable    = false

  validation {
    condition     = length(var.dump_token_key) >= 32
    error_message = "dump_token_key must hold at least 32 characters: `export TF_VAR_dump_token_key=\"$(openssl rand -base64 48)\"`."
  }
}

variable "dump_token_key_version" {
  type        = number
  description = "Version of dump_token_key: raise it (with a new key) to rotate the key; the old Secret Manager version is disabled."
  default     = 1
}

variable "dump_token_secret_version" {
  type        = string
  description = "Version of the token-signing secret mounted as DUMP_TOKEN_SECRET. Pin a number and bump it to roll a new key out; \"latest\" is read when an instance starts."
  default     = "latest"
}

variable "queue" {
  type = object({
    max_dispatches_per_second = optional(number, 5)
    max_concurrent_dispatches = optional(number, 10)
    max_attempts              = optional(number, 20)
    max_retry_duration        = optional(string, "0s") # unlimited: max_attempts ends a task, and the worker counts those
    min_backoff               = optional(string, "10s")
    max_backoff               = optional(string, "300s")
    max_doublings             = optional(number, 4)
  })
  description = "Cloud Tasks rate limit and retry policy. Retries carry long exports: the worker answers non-2xx while its BigQuery job runs and the retry picks the same job up. The worker gets max_attempts too (DUMP_TASK_MAX_ATTEMPTS) and records an unfinished attempt as failed on the last delivery."
  default     = {}

  validation {
    condition     = var.queue.max_attempts >= 1
    error_message = "queue.max_attempts must be at least 1: the worker records a failure on the last delivery, so unlimited (-1) would leave no last one."
  }
}

variable "prewarm" {
  type = object({
    schedule  = optional(string, "0 4 * * *")
    time_zone = optional(string, "Etc/UTC")
    resources = optional(list(string), [])
    formats   = optional(list(string), ["csv"])
  })
  description = "Cloud Scheduler pre-warm: cron schedule, time zone, and the resource ids and formats to export ahead of demand. No job is created while resources is empty."
  default     = {}
}

variable "timeouts" {
  type = object({
    dump   = optional(number, 60)
    worker = optional(number, 1800)
    stream = optional(number, 3600)
  })
  description = "Request timeouts in seconds. The worker's is also its tasks' dispatch deadline (TASKS_DISPATCH_DEADLINE_SECONDS, 15 to 1800); the stream's bounds the longest download (at most 3600) and is the streaming function's STREAM_TIMEOUT_SECONDS: a follower of a running export waits five sixths of it, then answers 503 with Retry-After."
  default     = {}

  validation {
    condition     = var.timeouts.worker >= 15 && var.timeouts.worker <= 1800
    error_message = "timeouts.worker is also the Cloud Tasks dispatch deadline: 15 to 1800 seconds."
  }
}

variable "scaling" {
  type = object({
    available_memory    = optional(string, "512Mi")
    available_cpu       = optional(string, "1")
    request_concurrency = optional(number, 16)
    max_instance_count  = optional(number, 10)
  })
  description = "Instance size and limits applied to all three targets; request_concurrency is also each instance's functions-framework THREADS."
  default     = {}
}

variable "labels" {
  type        = map(string)
  description = "Labels applied to the functions and the secret."
  default     = { app = "bqdump" }
}
