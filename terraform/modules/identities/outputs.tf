output "read_only_email" {
  description = "Email of the read-only service account (runtime of the streaming function)."
  value       = local.emails.read_only
}

output "read_write_email" {
  description = "Email of the read-write service account (runtime of the dump function and the worker, SIGNING_SERVICE_ACCOUNT)."
  value       = local.emails.read_write
}

output "tasks_email" {
  description = "Email of the identity Cloud Tasks uses to call the worker (TASKS_SERVICE_ACCOUNT)."
  value       = local.emails.tasks
}

output "scheduler_email" {
  description = "Email of the identity Cloud Scheduler uses to call the pre-warm endpoint (PREWARM_SERVICE_ACCOUNT)."
  value       = local.emails.scheduler
}
