output "dump_url" {
  description = "Public dump URL: CKAN's download links point at <dump_url>/<resource_id>?format=csv|tsv|ndjson|parquet."
  value       = "${local.urls.dump}/datastore/dump"
}

output "dump_function_uri" {
  description = "URI Cloud Run reports for the dump function (serves the same paths as dump_url)."
  value       = google_cloudfunctions2_function.this["dump"].service_config[0].uri
}

output "worker_url" {
  description = "URL Cloud Tasks posts export tasks to (WORKER_URL, also WORKER_AUDIENCE)."
  value       = local.urls.worker
}

output "stream_url" {
  description = "Public URL of the streaming function (STREAM_URL)."
  value       = local.urls.stream
}

output "tasks_queue" {
  description = "Full path of the Cloud Tasks queue (TASKS_QUEUE)."
  value       = local.queue_path
}

output "dump_token_secret_id" {
  description = "Secret Manager secret that holds the streaming-token key (DUMP_TOKEN_SECRET); add its versions with gcloud."
  value       = google_secret_manager_secret.dump_token.secret_id
}

output "service_names" {
  description = "Cloud Run service names of the three targets (a gen2 function's service is named like the function), for log filters and metrics."
  value       = local.names
}

output "dump_host" {
  description = "Host name of the dump function (its deterministic run.app URL), for the uptime check and the load balancer."
  value       = trimprefix(local.urls.dump, "https://")
}

output "queue_name" {
  description = "Short name (queue_id) of the Cloud Tasks export queue."
  value       = google_cloud_tasks_queue.exports.name
}
