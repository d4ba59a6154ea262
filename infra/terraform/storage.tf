resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:legacy usage logs are superseded by Cloud Audit Logs (enable Data Access logs for storage to audit reads); a second bucket just for access logs is not kept.
  name                        = "${var.project_id}-tron-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  # Old source zips are only useful for a quick rollback.
  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# Logs archived per day and function, each tick's inputs (for replay) and the end-of-day reports.
resource "google_storage_bucket" "logs" {
  #checkov:skip=CKV_GCP_62:legacy usage logs are superseded by Cloud Audit Logs (enable Data Access logs for storage to audit reads); a second bucket just for access logs is not kept.
  name                        = "${var.project_id}-tron-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # Logs, replays, reports and sweeps (sweep.tf: bars, task lists, results) go after log_retention_days; the
  # option chains (chains/) are kept: Kite has no history of expired contracts, so they are the only record of
  # them.
  lifecycle_rule {
    condition {
      age            = var.log_retention_days
      matches_prefix = ["logs/", "replay/", "reports/", "malformed/", "sweeps/"]
    }
    action {
      type = "Delete"
    }
  }

  # An overwritten or deleted archive stays recoverable for a week.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}
