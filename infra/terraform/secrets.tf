# The secrets exist here; their values never do (they would land in state). Add versions with
#   printf %s "$VALUE" | gcloud secrets versions add kite_api_key --data-file=-
# kite_access_token gets a new version every morning from the Kite login flow.
# The ids are exactly the names the code asks Secret Manager for (tron.adapters.kite.session,
# tron.services.kite_login, tron.adapters.openai_planner): a test fails when they drift apart.
locals {
  secrets = toset([
    "kite_api_key", "kite_api_secret", "kite_access_token", "openai-api-key",
    "telegram-bot-token", "telegram-webhook-secret",
  ])

  # function -> secret accessor grants, exactly the secrets each function lists. kite_api_secret is read
  # only by kite_login (the request_token exchange), which is also the only function that may add versions
  # (the day's access token) and then only to kite_access_token.
  secret_access = merge([
    for fn, cfg in local.functions : { for s in cfg.secrets : "${fn}/${s}" => { function = fn, secret = s } }
  ]...)
  secret_version_adders = merge([
    for fn, cfg in local.functions : { for s in cfg.adds_versions : "${fn}/${s}" => { function = fn, secret = s } }
  ]...)
}

resource "google_secret_manager_secret" "secret" {
  for_each = local.secrets

  secret_id = each.value
  labels    = { app = "tron" }

  # Keep the keys in India, next to the functions.
  replication {
    user_managed {
      replicas {
        location = var.region
      }
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_secret_manager_secret_iam_member" "access" {
  for_each = local.secret_access

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

resource "google_secret_manager_secret_iam_member" "add_version" {
  for_each = local.secret_version_adders

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretVersionAdder"
  member    = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}
