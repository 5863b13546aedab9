output "ip_address" {
  description = "The load balancer's address: point the A records of every domain here (the certificate is issued once they resolve)."
  value       = google_compute_global_address.portal.address
}

output "dump_url" {
  description = "Dump URL on the portal's own domain (<dump_url>/<resource_id>?format=csv)."
  value       = "https://${var.domains[0]}/datastore/dump"
}
