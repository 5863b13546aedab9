output "read_only_email" {
  description = "Email of the read-only service account (runtime of the streaming function)."
  value       = google_service_account.read_only.email
}

output "read_write_email" {
  description = "Email of the read-write service account (runtime of the dump function and the worker, SIGNING_SERVICE_ACCOUNT)."
  value       = google_service_account.read_write.email
}

output "tasks_email" {
  description = "Email of the identity Cloud Tasks uses to call the worker (TASKS_SERVICE_ACCOUNT)."
  value       = google_service_account.tasks.email
}

output "scheduler_email" {
  description = "Email of the identity Cloud Scheduler uses to call the pre-warm endpoint (PREWARM_SERVICE_ACCOUNT)."
  value       = google_service_account.scheduler.email
}
