variable "project_id" {
  type        = string
  description = "Project that hosts bqdump: its logs feed the metrics, and the alert policies, dashboard and uptime check live there."
}

variable "name_prefix" {
  type        = string
  description = "Prefix of the metric, policy and check names (the other modules' name_prefix)."
  default     = "bqdump"
}

variable "service_names" {
  type        = object({ dump = string, worker = string, stream = string })
  description = "Cloud Run service names of the three functions (the services module's service_names output)."
}

variable "queue_name" {
  type        = string
  description = "Short name of the Cloud Tasks export queue (its queue_id)."
}

variable "dump_host" {
  type        = string
  description = "Host name of the dump function the uptime check calls on /healthz (the services module's dump_host)."
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

  validation {
    condition     = alltrue([for email in var.notification_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "notification_emails holds email addresses."
  }
}

variable "thresholds" {
  type = object({
    export_failures_per_hour = optional(number, 0)
    error_ratio              = optional(number, 0.05)
    hit_latency_p95_seconds  = optional(number, 2)
    queue_depth              = optional(number, 200)
    queue_delay_p95_seconds  = optional(number, 900)
  })
  description = <<-EOT
    When the alert policies fire: more than export_failures_per_hour exports failed for good in an hour; the dump
    function's 5xx answers exceed error_ratio of its requests for 10 minutes; the 95th percentile of cache-hit
    latency exceeds hit_latency_p95_seconds for 10 minutes; the export queue holds more than queue_depth tasks, or
    its tasks start queue_delay_p95_seconds (95th percentile) later than scheduled, for 15 minutes.
  EOT
  default     = {}

  validation {
    condition     = var.thresholds.error_ratio > 0 && var.thresholds.error_ratio < 1
    error_message = "thresholds.error_ratio is a fraction between 0 and 1."
  }
}

variable "labels" {
  type        = map(string)
  description = "User labels of the alert policies, the uptime check and the email channels."
  default     = { app = "bqdump" }
}
