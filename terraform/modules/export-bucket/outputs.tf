output "name" {
  description = "Name of the export bucket (BIGQUERY_EXPORT_BUCKET)."
  value       = google_storage_bucket.exports.name
}

output "url" {
  description = "gs:// URL of the export bucket."
  value       = google_storage_bucket.exports.url
}
