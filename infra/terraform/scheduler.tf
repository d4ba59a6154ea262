# One Cloud Scheduler job per entry of shared/tron/data/jobs.yaml, the same data the local runner (`tron run-day`)
# fires at virtual time. The cron strings and the time zone come from the file unchanged.
locals {
  schedule = yamldecode(file("${path.module}/../../shared/tron/data/jobs.yaml"))
  jobs     = { for j in local.schedule.jobs : j.name => j }
}

resource "google_cloud_scheduler_job" "job" {
  for_each = local.jobs

  name             = each.key
  region           = var.region
  description      = "${each.value.function} at \"${each.value.cron}\" (${local.schedule.time_zone})"
  schedule         = each.value.cron
  time_zone        = local.schedule.time_zone
  paused           = var.pause_schedules
  attempt_deadline = "${min(local.functions[each.value.function].timeout + 5, 1800)}s"

  # A tick is useless a minute later: no retries. Others retry briefly.
  retry_config {
    retry_count          = startswith(each.value.function, "tick_") ? 0 : 2
    min_backoff_duration = "5s"
    max_backoff_duration = "30s"
  }

  http_target {
    uri         = google_cloudfunctions2_function.fn[each.value.function].url
    http_method = "POST"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(try(each.value.body, null) == null ? "{}" : jsonencode(each.value.body))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.fn[each.value.function].url
    }
  }

  # `tron ops pause|resume` switches jobs off for a day; a later apply (CI on main) must not switch them back
  # on behind the operator's back, so `paused` is set at creation (var.pause_schedules) and left alone after.
  lifecycle {
    ignore_changes = [paused]
  }

  depends_on = [google_project_service.api, google_cloud_run_v2_service_iam_member.scheduler_invoker]
}
