# Alerts: every policy notifies the e-mail channel. 2nd gen functions log as Cloud Run revisions whose
# service name is the function name; the JSON lines on stdout arrive as jsonPayload.
locals {
  run_logs     = "resource.type=\"cloud_run_revision\""
  tick_assets  = ["stocks", "futures", "options"]
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
  filter = "${local.run_logs} AND jsonPayload.message:\"halt\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }

  depends_on = [google_project_service.api]
}

# Any log line of a tick function (the request log included), labelled with the function.
resource "google_logging_metric" "tick_logs" {
  name   = "tron-tick-logs"
  filter = "${local.run_logs} AND resource.labels.service_name=~\"^tick-\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"

    labels {
      key        = "function"
      value_type = "STRING"
    }
  }

  label_extractors = {
    function = "EXTRACT(resource.labels.service_name)"
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

# Ticks fire every minute 09:15-15:29 IST = 03:45-09:59 UTC on every day (closed days too: the tick then
# returns after one read), so a tick function without any log line for 3 minutes inside that window missed
# ticks. The time window is part of the PromQL query; outside it the condition cannot fire.
resource "google_monitoring_alert_policy" "missed_tick" {
  display_name          = "TRON: tick missed during market hours"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = [google_monitoring_notification_channel.email.id]

  dynamic "conditions" {
    for_each = toset(local.tick_assets)
    content {
      display_name = "no tick-${conditions.value} logs for 3 minutes, 09:18-15:30 IST"
      condition_prometheus_query_language {
        query               = "absent_over_time({\"__name__\"=\"${local.user_metrics}/${google_logging_metric.tick_logs.name}\", \"monitored_resource\"=\"cloud_run_revision\", \"function\"=\"tick-${conditions.value}\"}[3m]) and on() (hour() * 60 + minute() >= 228 and hour() * 60 + minute() <= 600)"
        duration            = "60s"
        evaluation_interval = "60s"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A tick function logged nothing for 3 minutes during the session: the scheduler job, the function or its deployment is broken. Positions are not being managed; consider square-off."
  }
}
