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

variable "source_zip" {
  type        = string
  description = "Local source zip that `make package` builds; null means the repository's build/bqdump-source.zip. Uploaded to the export bucket under source/, named by its SHA-256, so a new release rebuilds the functions."
  default     = null
}

variable "source_archive" {
  type        = string
  description = "A source zip uploaded some other way, as gs://BUCKET/OBJECT.zip; null (the default) uploads source_zip instead."
  default     = null
}

variable "dump_token_key" {
  type        = string
  description = "Value of the streaming-token HMAC key (DUMP_TOKEN_SECRET), at least 32 characters: `export TF_VAR_dump_token_key=\"$(openssl rand -base64 48)\"`. Ephemeral and write-only: sent to Secret Manager only when dump_token_key_version changes, never stored in a plan or the state."
  ephemeral   = true
  sensitive   = true
  nullable    = false
}

variable "dump_token_key_version" {
  type        = number
  description = "Version of dump_token_key: raise it, with a new key, to rotate the key (the old Secret Manager version is disabled)."
  default     = 1
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
  description = "Version of the token-signing secret the functions mount: \"latest\" (read when an instance starts), or a number to pin."
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

variable "force_destroy" {
  type        = bool
  description = "Let terraform destroy the export bucket while it still holds exports (derived data, safe to enable)."
  default     = false
}

variable "access_log_bucket" {
  type        = string
  description = "Optional bucket that receives the export bucket's usage logs; null turns usage logging off (Cloud Audit Logs still apply)."
  default     = null
}

variable "runtime" {
  type        = string
  description = "Cloud Functions runtime of the three targets."
  default     = "python311"
}

variable "build_service_account" {
  type        = string
  description = "Optional service account Cloud Build uses to build the functions, as projects/PROJECT/serviceAccounts/EMAIL; null keeps the project default."
  default     = null
}

variable "export_url_expiry_hours" {
  type        = number
  description = "Lifetime of the signed download URLs in hours, 1 to 168 (BIGQUERY_EXPORT_URL_EXPIRY_HOURS). null: the application's default."
  default     = null
}

variable "dump_wait_seconds" {
  type        = number
  description = "How long a dump request waits for a fresh export before answering that it is being prepared (DUMP_WAIT_SECONDS). null: the application's default."
  default     = null
}

variable "dump_worker_wait_seconds" {
  type        = number
  description = "How long one worker delivery waits for its export job (DUMP_WORKER_WAIT_SECONDS); plus 60 s it must fit in timeouts.worker. null: the application's default."
  default     = null
}

variable "dump_compose" {
  type        = bool
  description = "Compose multi-file exports into one object instead of streaming them (DUMP_COMPOSE). null: the application's default."
  default     = null
}

variable "dump_query_max_per_resource" {
  type        = number
  description = "Distinct filtered (CKAN query) dumps kept per resource (DUMP_QUERY_MAX_PER_RESOURCE). null: the application's default."
  default     = null
}

variable "dump_query_touch_seconds" {
  type        = number
  description = "A cache hit on a query dump records its request at most this often (DUMP_QUERY_TOUCH_SECONDS). null: the application's default."
  default     = null
}

variable "queue" {
  type = object({
    max_dispatches_per_second = optional(number, 5)
    max_concurrent_dispatches = optional(number, 10)
    max_attempts              = optional(number, 20)
    max_retry_duration        = optional(string, "0s")
    min_backoff               = optional(string, "10s")
    max_backoff               = optional(string, "300s")
    max_doublings             = optional(number, 4)
  })
  description = "Cloud Tasks rate limit and retry policy of the export queue; max_attempts (at least 1) is also the worker's DUMP_TASK_MAX_ATTEMPTS. See the services module."
  default     = {}
}

variable "timeouts" {
  type = object({
    dump   = optional(number, 60)
    worker = optional(number, 1800)
    stream = optional(number, 3600)
  })
  description = "Request timeouts in seconds; the worker's (15 to 1800) is also its tasks' dispatch deadline, the stream's bounds the longest streamed download."
  default     = {}
}

variable "scaling" {
  type = object({
    available_memory    = optional(string, "512Mi")
    available_cpu       = optional(string, "1")
    request_concurrency = optional(number, 16)
    max_instance_count  = optional(number, 10)
  })
  description = "Instance size and limits of the three targets; request_concurrency is also each instance's THREADS."
  default     = {}
}

variable "monitoring" {
  type        = bool
  description = "Log-based metrics, alert policies (export failures, 5xx ratio, p95 hit latency, queue backlog, uptime), a dashboard and an uptime check on /healthz."
  default     = true
}

variable "notification_channels" {
  type        = list(string)
  description = "Existing notification channels (projects/PROJECT/notificationChannels/ID) every alert policy notifies."
  default     = []
}

variable "notification_emails" {
  type        = list(string)
  description = "Email addresses that get a notification channel of their own, notified by every alert policy."
  default     = []
}

variable "alert_thresholds" {
  type = object({
    export_failures_per_hour = optional(number, 0)
    error_ratio              = optional(number, 0.05)
    hit_latency_p95_seconds  = optional(number, 2)
    queue_depth              = optional(number, 200)
    queue_delay_p95_seconds  = optional(number, 900)
  })
  description = "When the alerts fire: failed exports per hour, the 5xx fraction of dump requests, p95 cache-hit latency, and the queue's depth and p95 start delay (see the monitoring module)."
  default     = {}
}

variable "load_balancer" {
  type        = bool
  description = "Serve /datastore/dump/* on the portal's own domain through a global external HTTPS load balancer (domains, and portal_backend_service or portal_url, required then)."
  default     = false
}

variable "domains" {
  type        = list(string)
  description = "The portal's host names (e.g. [\"portal.example.org\"]) for the load balancer and its Google-managed certificate."
  default     = []

  validation {
    condition     = !var.load_balancer || length(var.domains) > 0
    error_message = "load_balancer = true needs domains: the portal's host names."
  }
}

variable "portal_backend_service" {
  type        = string
  description = "Existing global backend service of the rest of the portal (CKAN), as its id or self link; or set portal_url."
  default     = null
}

variable "portal_url" {
  type        = string
  description = "https://HOST where the rest of the portal lives when it has no backend service here: other paths are redirected there."
  default     = null
}

variable "rate_limit_per_minute" {
  type        = number
  description = "Cloud Armor per-client-IP limit on /datastore/dump/* requests per minute (beyond it: 429); null: no policy."
  default     = null
}
