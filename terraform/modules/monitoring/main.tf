locals {
  # The structured lines the functions write on stderr (functions/core/log_entries.py): Cloud Logging files them
  # under run.googleapis.com/stderr, with httpRequest as the entry's own field and the rest in jsonPayload.
  lines = {
    for key, service in var.service_names : key => join(" AND ", [
      "resource.type=\"cloud_run_revision\"",
      "resource.labels.service_name=\"${service}\"",
      "log_id(\"run.googleapis.com/stderr\")",
    ])
  }

  metric_names = {
    requests = "${var.name_prefix}/dump_requests"
    latency  = "${var.name_prefix}/dump_latency"
    tasks    = "${var.name_prefix}/export_tasks"
  }
  metric_types = { for key, name in local.metric_names : key => "logging.googleapis.com/user/${name}" }
  queue_filter = "resource.type=\"cloud_tasks_queue\" AND resource.labels.queue_id=\"${var.queue_name}\""

  channels = concat(var.notification_channels, [for channel in google_monitoring_notification_channel.email : channel.id])
}

# One count per dump request line, by outcome (hit, not-modified, queued, waited, failed, error) and HTTP status.
resource "google_logging_metric" "dump_requests" {
  project = var.project_id
  name    = local.metric_names.requests
  filter  = "${local.lines.dump} AND httpRequest.status>0"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "bqdump dump requests"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "What the request came to: hit, not-modified, queued, waited, failed or error."
    }
    labels {
      key         = "status"
      value_type  = "STRING"
      description = "HTTP status of the answer."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
    status  = "EXTRACT(httpRequest.status)"
  }
}

# Latency of the dump function's answers, by outcome: the p95 of hits is what a warm download waits.
resource "google_logging_metric" "dump_latency" {
  project         = var.project_id
  name            = local.metric_names.latency
  filter          = "${local.lines.dump} AND httpRequest.status>0"
  value_extractor = "REGEXP_EXTRACT(httpRequest.latency, \"([0-9.]+)s\")"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "s"
    display_name = "bqdump dump latency"
    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "What the request came to: hit, not-modified, queued, waited, failed or error."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(jsonPayload.outcome)"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.4
      scale              = 0.005 # 5 ms up to about 4 hours
    }
  }
}

# One count per worker delivery, by what it came to (published, failed, retry, running, superseded, ...).
resource "google_logging_metric" "export_tasks" {
  project = var.project_id
  name    = local.metric_names.tasks
  filter  = "${local.lines.worker} AND jsonPayload.task:*"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "bqdump export task deliveries"
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "What the delivery came to: published, failed, retry, running, superseded, rejected, ..."
    }
  }

  label_extractors = {
    task = "EXTRACT(jsonPayload.task)"
  }
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.notification_emails)

  project      = var.project_id
  display_name = "bqdump alerts: ${each.value}"
  type         = "email"
  labels       = { email_address = each.value }
  user_labels  = var.labels
}

resource "google_monitoring_uptime_check_config" "healthz" {
  project      = var.project_id
  display_name = "${var.name_prefix} dump function /healthz"
  timeout      = "10s"
  period       = "300s"
  user_labels  = var.labels

  http_check {
    path         = "/healthz"
    port         = 443
    use_ssl      = true
    validate_ssl = true
  }

  monitored_resource {
    type   = "uptime_url"
    labels = { project_id = var.project_id, host = var.dump_host }
  }
}

locals {
  # The alert policies, from one table: each is one threshold condition (the queue's has two), and all notify the
  # same channels. Log-based metrics appear a few minutes after a line is written; the windows allow for that.
  policies = {
    export_failures = {
      title    = "${var.name_prefix}: exports failing"
      severity = "ERROR"
      doc      = "Exports failed for good (the worker gave up after the queue's last delivery, or BigQuery refused the job). Read the worker's lines with jsonPayload.task=\"failed\" (DEPLOY.md, \"Read the logs\"): the reason names the table and the error. Dump requests for those tables answer 503 with the failure until the table changes or the failure record expires."
      conditions = {
        failed = {
          name        = "More than ${var.thresholds.export_failures_per_hour} failed exports in an hour"
          filter      = "metric.type=\"${local.metric_types.tasks}\" AND resource.type=\"cloud_run_revision\" AND metric.labels.task=\"failed\""
          denominator = null
          aligner     = "ALIGN_SUM"
          reducer     = "REDUCE_SUM"
          period      = "3600s"
          duration    = "0s"
          threshold   = var.thresholds.export_failures_per_hour
        }
      }
    }
    error_ratio = {
      title    = "${var.name_prefix}: dump function answering 5xx"
      severity = "CRITICAL"
      doc      = "More than ${var.thresholds.error_ratio * 100}% of dump requests answered 5xx for 10 minutes. Read the dump function's lines with severity>=ERROR (DEPLOY.md, \"Read the logs\"): BigQuery or Cloud Storage refusing the read-write identity, a broken release, or the token secret missing are the usual causes."
      conditions = {
        ratio = {
          name        = "5xx answers above ${var.thresholds.error_ratio * 100}% of requests"
          filter      = "metric.type=\"${local.metric_types.requests}\" AND resource.type=\"cloud_run_revision\" AND metric.labels.status=monitoring.regex.full_match(\"5[0-9][0-9]\")"
          denominator = "metric.type=\"${local.metric_types.requests}\" AND resource.type=\"cloud_run_revision\""
          aligner     = "ALIGN_RATE"
          reducer     = "REDUCE_SUM"
          period      = "300s"
          duration    = "600s"
          threshold   = var.thresholds.error_ratio
        }
      }
    }
    hit_latency = {
      title    = "${var.name_prefix}: slow cache hits"
      severity = "WARNING"
      doc      = "The 95th percentile of cache-hit latency (table lookup, listing, signing) is above ${var.thresholds.hit_latency_p95_seconds} s. Check the CKAN authorisation calls (AUTH_TYPE=ckan: CKAN_TIMEOUT_SECONDS), BigQuery metadata latency and the dump function's instance count (scaling.max_instance_count)."
      conditions = {
        p95 = {
          name        = "p95 hit latency above ${var.thresholds.hit_latency_p95_seconds} s"
          filter      = "metric.type=\"${local.metric_types.latency}\" AND resource.type=\"cloud_run_revision\" AND metric.labels.outcome=\"hit\""
          denominator = null
          aligner     = "ALIGN_DELTA"
          reducer     = "REDUCE_PERCENTILE_95"
          period      = "300s"
          duration    = "600s"
          threshold   = var.thresholds.hit_latency_p95_seconds
        }
      }
    }
    queue_backlog = {
      title    = "${var.name_prefix}: export queue backing up"
      severity = "WARNING"
      doc      = "The export queue holds more than ${var.thresholds.queue_depth} tasks, or its tasks start more than ${var.thresholds.queue_delay_p95_seconds} s late, for 15 minutes: exports arrive faster than the worker finishes them. Raise queue.max_concurrent_dispatches and scaling.max_instance_count, or look for a worker that keeps answering 503 (jsonPayload.task=\"retry\")."
      conditions = {
        depth = {
          name        = "More than ${var.thresholds.queue_depth} tasks queued"
          filter      = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND ${local.queue_filter}"
          denominator = null
          aligner     = "ALIGN_MAX"
          reducer     = "REDUCE_MAX"
          period      = "300s"
          duration    = "900s"
          threshold   = var.thresholds.queue_depth
        }
        delay = {
          name        = "Tasks start more than ${var.thresholds.queue_delay_p95_seconds} s late (p95)"
          filter      = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND ${local.queue_filter}"
          denominator = null
          aligner     = "ALIGN_DELTA"
          reducer     = "REDUCE_PERCENTILE_95"
          period      = "300s"
          duration    = "900s"
          threshold   = var.thresholds.queue_delay_p95_seconds * 1000 # the metric counts milliseconds
        }
      }
    }
    uptime = {
      title    = "${var.name_prefix}: dump function down"
      severity = "CRITICAL"
      doc      = "The uptime check of /healthz on the dump function failed from more than one region. Check the function's latest revision (gcloud run services describe) and its start-up lines: every function refuses to start with a missing or wrong setting."
      conditions = {
        healthz = {
          name        = "/healthz failing from more than one region"
          filter      = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.labels.check_id=\"${google_monitoring_uptime_check_config.healthz.uptime_check_id}\""
          denominator = null
          aligner     = "ALIGN_NEXT_OLDER"
          reducer     = "REDUCE_COUNT_FALSE"
          period      = "1200s"
          duration    = "600s"
          threshold   = 1
        }
      }
    }
  }
}

resource "google_monitoring_alert_policy" "this" {
  for_each = local.policies

  project               = var.project_id
  display_name          = each.value.title
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = local.channels
  user_labels           = var.labels

  dynamic "conditions" {
    for_each = each.value.conditions
    content {
      display_name = conditions.value.name
      condition_threshold {
        filter             = conditions.value.filter
        denominator_filter = conditions.value.denominator
        comparison         = "COMPARISON_GT"
        threshold_value    = conditions.value.threshold
        duration           = conditions.value.duration
        aggregations {
          alignment_period     = conditions.value.period
          per_series_aligner   = conditions.value.aligner
          cross_series_reducer = conditions.value.reducer
        }
        dynamic "denominator_aggregations" {
          for_each = conditions.value.denominator == null ? [] : [1]
          content {
            alignment_period     = conditions.value.period
            per_series_aligner   = conditions.value.aligner
            cross_series_reducer = conditions.value.reducer
          }
        }
      }
    }
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_logging_metric.dump_requests, google_logging_metric.dump_latency, google_logging_metric.export_tasks]
}

resource "google_monitoring_dashboard" "this" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix} downloads"
    mosaicLayout = {
      columns = 12
      tiles = [for index, chart in [
        { title = "Dump requests by outcome", filter = "metric.type=\"${local.metric_types.requests}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.outcome"] },
        { title = "Dump requests by status", filter = "metric.type=\"${local.metric_types.requests}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.status"] },
        { title = "p95 dump latency by outcome (s)", filter = "metric.type=\"${local.metric_types.latency}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", by = ["metric.label.outcome"] },
        { title = "Export deliveries by result", filter = "metric.type=\"${local.metric_types.tasks}\" AND resource.type=\"cloud_run_revision\"", aligner = "ALIGN_RATE", reducer = "REDUCE_SUM", by = ["metric.label.task"] },
        { title = "Export queue depth", filter = "metric.type=\"cloudtasks.googleapis.com/queue/depth\" AND ${local.queue_filter}", aligner = "ALIGN_MAX", reducer = "REDUCE_MAX", by = [] },
        { title = "p95 task start delay (ms)", filter = "metric.type=\"cloudtasks.googleapis.com/queue/task_attempt_delays\" AND ${local.queue_filter}", aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", by = [] },
        ] : {
        xPos   = (index % 2) * 6
        yPos   = floor(index / 2) * 4
        width  = 6
        height = 4
        widget = {
          title = chart.title
          xyChart = {
            dataSets = [{
              plotType = "LINE"
              timeSeriesQuery = {
                timeSeriesFilter = {
                  filter = chart.filter
                  aggregation = {
                    alignmentPeriod    = "60s"
                    perSeriesAligner   = chart.aligner
                    crossSeriesReducer = chart.reducer
                    groupByFields      = chart.by
                  }
                }
              }
            }]
          }
        }
      }]
    }
  })
}
