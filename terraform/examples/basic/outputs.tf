output "dump_url" {
  description = "Public dump URL: point CKAN's DataStore dump links here (<dump_url>/<resource_id>?format=csv)."
  value       = module.services.dump_url
}

output "stream_url" {
  description = "Public URL of the streaming function."
  value       = module.services.stream_url
}

output "worker_url" {
  description = "Private URL of the export worker."
  value       = module.services.worker_url
}

output "tasks_queue" {
  description = "Full path of the Cloud Tasks queue."
  value       = module.services.tasks_queue
}

output "dump_token_secret_id" {
  description = "Secret to add token-signing key versions to."
  value       = module.services.dump_token_secret_id
}

output "service_names" {
  description = "Cloud Run service names of the dump, worker and stream targets."
  value       = module.services.service_names
}

output "service_accounts" {
  description = "Emails of the four identities."
  value = {
    read_only  = module.identities.read_only_email
    read_write = module.identities.read_write_email
    tasks      = module.identities.tasks_email
    scheduler  = module.identities.scheduler_email
  }
}

output "source_archive" {
  description = "The source zip the functions were built from (gs://BUCKET/source/bqdump-SHA256.zip)."
  value       = local.source_archive
}

output "export_bucket" {
  description = "Name of the export bucket (BIGQUERY_EXPORT_BUCKET)."
  value       = module.export_bucket.name
}

output "alert_policies" {
  description = "Alert policy ids by purpose; empty when monitoring is off."
  value       = one(module.monitoring[*].alert_policies)
}

output "portal_dump_url" {
  description = "Dump URL on the portal's own domain when load_balancer is on: CKAN's download links keep working there."
  value       = one(module.load_balancer[*].dump_url)
}

output "load_balancer_ip" {
  description = "Address to point the portal domains' A records at when load_balancer is on."
  value       = one(module.load_balancer[*].ip_address)
}
