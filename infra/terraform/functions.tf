locals {
  kite_secrets = ["kite_api_key", "kite_access_token"]
  # Functions that notify (fills, stops, halts, the day's summary) read the Telegram bot's token.
  notify_secrets = concat(local.kite_secrets, ["telegram-bot-token"])

  # One entry per entry point of functions/main.py (the key is the Python name, the function is named with
  # hyphens). secrets: what the function may read; adds_versions: secrets it may add versions to;
  # publishes: may publish order intents to "orders"; reads_archive: may read the log/report bucket besides
  # writing to it; operator: an operator (var.operators) may call it by hand (`gcloud functions call`).
  # How each is triggered: plan_day, tick_*, square_off and end_of_day by the Cloud Scheduler jobs of
  # shared/tron/data/jobs.yaml (scheduler.tf), execute_order by the orders push subscription (pubsub.tf), and
  # kill_switch and kite_login only by an operator (HTTP-only: the Kite redirect through an authenticated proxy or
  # `gcloud functions call kite-login`), positions_page only by an operator's browser through
  # `gcloud run services proxy positions-page`, telegram_webhook by Telegram (public: see iam.tf).
  # tests/infra/test_terraform.py fails when these disagree.
  functions = {
    plan_day = {
      description   = "Pre-open: builds the day's plan, risk envelope and warm-up history."
      memory        = "1Gi"
      timeout       = 540
      max_instances = 1
      ingress       = var.http_ingress
      secrets       = concat(local.notify_secrets, ["openai-api-key"])
      publishes     = false
      reads_archive = false
      adds_versions = []
      operator      = false
    }
    tick_stocks = {
      description   = "Every minute 09:15-15:29 IST: one quote snapshot, strategies, risk, order intents (stocks)."
      memory        = "1Gi"
      timeout       = 55
      max_instances = 1
      ingress       = var.http_ingress
      secrets       = local.notify_secrets
      publishes     = true
      reads_archive = false
      adds_versions = []
      operator      = false
    }
    tick_futures = {
      description   = "Every minute 09:15-15:29 IST: one quote snapshot, strategies, risk, order intents (futures)."
      memory        = "1Gi"
      timeout       = 55
      max_instances = 1
      ingress       = var.http_ingress
      secrets       = local.notify_secrets
      publishes     = true
      reads_archive = false
      adds_versions = []
      operator      = false
    }
    tick_options = {
      description   = "Every minute 09:15-15:29 IST: one quote snapshot, strategies, risk, order intents (options)."
      memory        = "1Gi"
      timeout       = 55
      max_instances = 1
      ingress       = var.http_ingress
      secrets       = local.notify_secrets
      publishes     = true
      reads_archive = false
      adds_versions = []
      operator      = false
    }
    execute_order = {
      description   = "Pub/Sub push from \"orders\": claims the intent, reconciles by tag, places the order once."
      memory        = "512Mi"
      timeout       = 60
      max_instances = 5 # Kite allows 10 orders/s per client
      ingress       = var.http_ingress
      secrets       = local.notify_secrets
      publishes     = false
      reads_archive = false
      adds_versions = []
      operator      = false
    }
    square_off = {
      description   = "Exits intraday positions before the broker's auto square-off; also callable by hand."
      memory        = "512Mi"
      timeout       = 120
      max_instances = 1
      ingress       = var.manual_ingress
      secrets       = local.notify_secrets
      publishes     = true
      reads_archive = false
      adds_versions = []
      operator      = true
    }
    kill_switch = {
      description   = "The operator's kill switch: engaged, entries stop and every open position is exited at once; also release and status."
      memory        = "512Mi"
      timeout       = 120
      max_instances = 1
      ingress       = var.manual_ingress
      secrets       = local.notify_secrets
      publishes     = true
      reads_archive = false
      adds_versions = []
      operator      = true
    }
    end_of_day = {
      description   = "After the close: P&L, HTML/JSON report and log archive to GCS, optional LLM review."
      memory        = "1Gi"
      timeout       = 540
      max_instances = 1
      ingress       = var.http_ingress
      secrets       = concat(local.notify_secrets, ["openai-api-key"])
      publishes     = false
      reads_archive = true
      adds_versions = []
      operator      = false
    }
    kite_login = {
      description   = "The Kite app's redirect target: exchanges the request_token and stores the day's access token as a new secret version."
      memory        = "512Mi"
      timeout       = 60
      max_instances = 1
      ingress       = var.manual_ingress
      secrets       = ["kite_api_key", "kite_api_secret"]
      publishes     = false
      reads_archive = false
      adds_versions = ["kite_access_token"]
      operator      = true
    }
    positions_page = {
      description   = "The live positions page (read-only HTML, reloading every 5 s): positions with MTM, orders, halts, loss-limit headroom, last ticks; opened through `gcloud run services proxy positions-page`."
      memory        = "512Mi"
      timeout       = 30
      max_instances = 2
      ingress       = var.manual_ingress
      secrets       = []
      publishes     = false
      reads_archive = false
      adds_versions = []
      operator      = true
    }
    telegram_webhook = {
      description   = "Telegram's webhook: the operator's commands from a phone (status, positions, halt, square-off with a confirm), checked by the secret header and the chat allowlist."
      memory        = "512Mi"
      timeout       = 60
      max_instances = 2
      ingress       = "ALLOW_ALL" # Telegram calls from the internet; the function checks the secret header
      secrets       = ["telegram-webhook-secret", "telegram-bot-token", "kite_api_key", "kite_access_token"]
      publishes     = true # a confirmed /squareoff publishes exits
      reads_archive = false
      adds_versions = []
      operator      = false
    }
  }

  # Functions that Cloud Scheduler invokes: exactly those named by a job of shared/tron/data/jobs.yaml.
  scheduled_functions = { for k, v in local.functions : k => v if contains([for j in local.jobs : j.function], k) }

  # Functions an operator may call by hand (square-off and the kill switch in an emergency, the daily Kite
  # login, the positions page).
  operator_functions = { for k, v in local.functions : k => v if v.operator }
}

resource "google_cloudfunctions2_function" "fn" {
  #checkov:skip=CKV_GCP_124:square-off and kill-switch (the operator's emergency exits), kite-login (the daily Kite login) and positions-page (the live page, through `gcloud run services proxy`) are called by an operator from outside the project (`gcloud functions call`, `gcloud run services proxy`) with IAM authentication; telegram-webhook is called by Telegram and checks its secret header and chat allowlist (iam.tf). The scheduled and pushed functions default to ALLOW_INTERNAL_ONLY.
  for_each = local.functions

  name        = replace(each.key, "_", "-")
  location    = var.region
  description = each.value.description
  labels      = { app = "tron" }

  build_config {
    runtime         = "python312"
    entry_point     = each.key
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.functions.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.fn[each.key].email
    available_memory                 = each.value.memory
    timeout_seconds                  = each.value.timeout
    min_instance_count               = 0
    max_instance_count               = each.value.max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = each.value.ingress
    all_traffic_on_latest_revision   = true

    # With static egress every request, Kite's included, leaves through the connector and Cloud NAT.
    vpc_connector                 = var.enable_static_egress ? google_vpc_access_connector.egress[0].id : null
    vpc_connector_egress_settings = var.enable_static_egress ? "ALL_TRAFFIC" : null

    # Plain values only: settings are TRON_* (see shared/tron/settings.py); the rest names resources.
    environment_variables = merge(
      {
        TRON_BACKEND         = "gcp"
        TRON_MODE            = var.trading_mode
        TRON_MARKET_DATA     = var.market_data
        TRON_CONFIG          = "config/tron.yaml" # packaged by source.tf; the function runs in its source folder
        TRON_ORDERS_TOPIC    = google_pubsub_topic.orders.name
        GOOGLE_CLOUD_PROJECT = var.project_id
        TRON_ARCHIVE_BUCKET  = google_storage_bucket.logs.name
      },
      # The Kite API for the login and quotes; orders only with trading_mode live, on the days an operator
      # arms (`tron live arm`), from the static IP registered with Kite.
      var.market_data == "kite" || each.key == "kite_login" ? { TRON_KITE__ROOT = "https://api.kite.trade" } : {},
      var.trading_mode == "live" ? {
        TRON_BROKER           = "kite"
        TRON_LIVE__STATIC_IPS = jsonencode([for a in google_compute_address.egress : a.address])
      } : {},
      # Telegram: notifications to these chats, and the only chats whose commands the webhook obeys.
      length(var.telegram_chat_ids) > 0 ? {
        TRON_TELEGRAM__ENABLED  = "true"
        TRON_TELEGRAM__CHAT_IDS = jsonencode(var.telegram_chat_ids)
      } : {},
    )

    # Secrets as TRON_SECRET_<NAME> (what tron.adapters.env_secrets reads), resolved at instance start.
    dynamic "secret_environment_variables" {
      for_each = var.mount_secrets ? toset(each.value.secrets) : toset([])
      content {
        key        = "TRON_SECRET_${upper(replace(secret_environment_variables.value, "-", "_"))}"
        project_id = var.project_id
        secret     = google_secret_manager_secret.secret[secret_environment_variables.value].secret_id
        version    = "latest"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = var.trading_mode != "live" || (var.market_data == "kite" && var.enable_static_egress)
      error_message = "trading_mode live needs market_data = \"kite\" and enable_static_egress = true: Kite takes orders only from the registered static IP."
    }
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.build,
    google_project_iam_member.build_reads_gcf_sources,
    google_secret_manager_secret_iam_member.access,
  ]
}
