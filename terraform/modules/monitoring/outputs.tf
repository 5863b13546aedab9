output "alert_policies" {
  description = "Alert policy ids by purpose (export_failures, error_ratio, hit_latency, queue_backlog, uptime)."
  value       = { for key, policy in google_monitoring_alert_policy.this : key => policy.id }
}

output "notification_channels" {
  description = "Every channel the alert policies notify: the given ones and one per notification email."
  value       = local.channels
}

output "metric_types" {
  description = "Monitoring metric types of the log-based metrics (dump requests, dump latency, export tasks)."
  value       = local.metric_types
}
