"""The Google Cloud backend: BigQuery, Cloud Storage and Cloud Tasks behind the same ports as the local one."""
