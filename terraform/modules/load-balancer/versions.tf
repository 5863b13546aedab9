terraform {
  required_version = ">= 1.11" # ephemeral variables and write-only arguments

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50, < 7.0"
    }
  }
}
