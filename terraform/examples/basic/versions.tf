terraform {
  required_version = ">= 1.11" # ephemeral variables and write-only arguments

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
  }
}

# Terraform state: local by default. For a team, keep it in a GCS bucket with versioning (created once, by
# hand: `gcloud storage buckets create gs://STATE_BUCKET --uniform-bucket-level-access` and
# `gcloud storage buckets update gs://STATE_BUCKET --versioning`) and uncomment:
#
# terraform {
#   backend "gcs" {
#     bucket = "STATE_BUCKET"
#     prefix = "bqdump"
#   }
# }

provider "google" {
  project = var.project_id
  region  = var.region
}
