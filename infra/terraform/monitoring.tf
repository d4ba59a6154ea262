# Alerts: every policy notifies the e-mail channel. 2nd gen functions log as Cloud Run revisions whose
# service name is the function name; the JSON lines on stdout arrive as jsonPayload.
locals {
  run_logs     = "resource.type=\"cloud_run_revision\""
  user_metrics = "logging.googleapis.com/user"
}

resource "google_monitoring_notification_channel" "email" {
  display_name = "TRON alerts (${var.alert_email})"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "executor_errors" {
  name   = "tron-executor-errors"
  filter = "${local.run_logs} AND resource.labels.service_name=\"execute-order\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "halts" {
  name   = "tron-halts"
  filter = "${local.run_logs} AND severity>=ERROR AND jsonPayload.message:\"halt\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }

  depends_on = [google_project_service.api]
}

# A tick (or the square-off) found an exit stuck past its lease, its deliveries run out while the broker was
# unreachable, and drove it again: the position is still open at the broker until that exit gets through.
resource "google_logging_metric" "stuck_exits" {
  name   = "tron-stuck-exits"
  filter = "${local.run_logs} AND severity>=ERROR AND jsonPayload.message:\"re-driven\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }

  depends_on = [google_project_service.api]
}

# Cloud Scheduler logs every finished attempt of a job under resource.type="cloud_scheduler_job", at ERROR
# when it failed (the function answered an error or timed out, or refused the scheduler's token). A failed
# tick attempt is a missed tick; a failed plan-day, square-off or end-of-day attempt is worse.
resource "google_logging_metric" "tick_attempt_failures" {
  name   = "tron-tick-attempt-failures"
  filter = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id=~\"^tick-\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"

    labels {
      key        = "job"
      value_type = "STRING"
    }
  }

  label_extractors = {
    job = "EXTRACT(resource.labels.job_id)"
  }

  depends_on = [google_project_service.api]
}

resource "google_logging_metric" "job_attempt_failures" {
  name   = "tron-job-attempt-failures"
  filter = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id=~\"^(plan-day|square-off-|end-of-day)\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"

    labels {
      key        = "job"
      value_type = "STRING"
    }
  }

  label_extractors = {
    job = "EXTRACT(resource.labels.job_id)"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "executor_errors" {
  display_name          = "TRON: execute-order logged an error"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "ERROR or worse from execute-order"
    condition_threshold {
      filter          = "metric.type=\"${local.user_metrics}/${google_logging_metric.executor_errors.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The order executor logged an error: an order may be rejected or unplaced. Check the intent in Firestore (days/{date}/intents) and the broker's order book."
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

resource "google_monitoring_alert_policy" "halt" {
  display_name          = "TRON: kill switch / halt engaged"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "a log message mentions halt"
    condition_threshold {
      filter          = "metric.type=\"${local.user_metrics}/${google_logging_metric.halts.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "New entries are halted (loss limit, stale token, failed preflight or manual kill switch). Exits are still managed. See days/{date} in Firestore for the reason."
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

resource "google_monitoring_alert_policy" "stuck_exits" {
  display_name          = "TRON: an exit is stuck and being driven again"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "a stuck exit was re-driven"
    condition_threshold {
      filter          = "metric.type=\"${local.user_metrics}/${google_logging_metric.stuck_exits.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An exit order could not reach the broker through all its deliveries (broker or network down, or the Kite token expired) and a tick drives it again each minute until it goes through. The position stays open meanwhile: check the broker, log in to Kite if the token expired, or square off by hand."
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "TRON: order messages dead-lettered"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "undelivered messages on ${google_pubsub_subscription.orders_dead_letter.name}"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.label.subscription_id=\"${google_pubsub_subscription.orders_dead_letter.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An order intent failed delivery to execute-order 10 times and sits in orders-dead-letter-hold. Inspect it, fix the cause, and republish or discard it."
  }
}

# A missed tick is a tick job attempt that failed. Deliberately not "no tick logs for N minutes": that
# would page on every day the operator paused with `tron ops pause`, and an alert that fires on purpose
# gets ignored. A job paused or deleted by mistake shows in `tron ops status` and in the Admin Activity
# audit log (protoPayload.serviceName="cloudscheduler.googleapis.com").
resource "google_monitoring_alert_policy" "missed_tick" {
  display_name          = "TRON: tick missed during market hours"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "a tick-* Cloud Scheduler attempt failed"
    condition_threshold {
      filter          = "metric.type=\"${local.user_metrics}/${google_logging_metric.tick_attempt_failures.name}\" AND resource.type=\"cloud_scheduler_job\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A tick of the job in the alert's `job` label failed (function error, timeout or refused token): positions of that asset were not managed that minute. Several in a row: consider `gcloud functions call square-off --gen2 --region REGION --data '{\"asset\":\"all\"}'`."
  }

  alert_strategy {
    auto_close = "1800s"
  }
}

resource "google_monitoring_alert_policy" "job_failed" {
  display_name          = "TRON: plan-day, square-off or end-of-day failed"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = [google_monitoring_notification_channel.email.id]

  conditions {
    display_name = "a plan-day / square-off-* / end-of-day attempt failed"
    condition_threshold {
      filter          = "metric.type=\"${local.user_metrics}/${google_logging_metric.job_attempt_failures.name}\" AND resource.type=\"cloud_scheduler_job\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A scheduled job other than a tick failed. square-off: positions may still be open before the broker's auto square-off: call square-off by hand now. plan-day: nothing trades today. end-of-day: the report is missing; call end-of-day by hand."
  }

  alert_strategy {
    auto_close = "3600s"
  }
}
