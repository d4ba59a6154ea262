# One runtime service account per function, one for building, one that Cloud Scheduler signs its OIDC
# tokens with, one that the orders push subscription signs with. No project-wide role beyond what each needs.

resource "google_service_account" "fn" {
  for_each = local.functions

  account_id   = "tron-fn-${replace(each.key, "_", "-")}"
  display_name = "TRON function ${replace(each.key, "_", "-")}"
}

resource "google_service_account" "build" {
  account_id   = "tron-build"
  display_name = "TRON Cloud Functions build"
}

resource "google_service_account" "scheduler" {
  account_id   = "tron-scheduler"
  display_name = "TRON Cloud Scheduler invoker"
}

resource "google_service_account" "orders_push" {
  account_id   = "tron-orders-push"
  display_name = "TRON orders push subscription invoker"
}

locals {
  # Project-level roles of every function: Firestore read/write and writing logs; the functions that only read
  # the state (the positions page) get Firestore read-only instead.
  function_project_roles = ["roles/datastore.user", "roles/logging.logWriter"]
  state_readers          = ["positions_page"]
  reader_project_roles   = ["roles/datastore.viewer", "roles/logging.logWriter"]

  function_roles = {
    for fn in keys(local.functions) :
    fn => contains(local.state_readers, fn) ? local.reader_project_roles : local.function_project_roles
  }
  function_project_bindings = merge([
    for fn, roles in local.function_roles : {
      for role in roles : "${fn}/${role}" => { function = fn, role = role }
    }
  ]...)

  # The build account's needs (Cloud Functions custom build service account): write build logs and push the
  # image. Reading the source is granted per bucket below, not project-wide.
  build_roles = ["roles/logging.logWriter", "roles/artifactregistry.createOnPushWriter"]
}

resource "google_project_iam_member" "fn" {
  for_each = local.function_project_bindings

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.fn[each.value.function].email}"
}

resource "google_project_iam_member" "build" {
  for_each = toset(local.build_roles)

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.build.email}"
}

# Cloud Functions copies the uploaded zip into its own gcf-v2-sources-<number>-<region> bucket and builds
# from there; the condition limits the read to those buckets.
resource "google_project_iam_member" "build_reads_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.build.email}"

  condition {
    title      = "gcf-v2-sources buckets only"
    expression = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-\")"
  }
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# Every function archives its logs (create only); end_of_day also reads them back for the report.
resource "google_storage_bucket_iam_member" "archive_write" {
  for_each = local.functions

  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

resource "google_storage_bucket_iam_member" "archive_read" {
  for_each = { for k, v in local.functions : k => v if v.reads_archive }

  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# Cloud Scheduler may invoke the functions its jobs target, and no other (2nd gen functions are Cloud Run
# services of the same name).
resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  for_each = local.scheduled_functions

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_run_v2_service_iam_member" "orders_push_invoker" {
  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["execute_order"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.orders_push.email}"
}

# The operators (var.operators) may call square-off, kill-switch and kite-login by hand and open the positions
# page (`gcloud run services proxy positions-page`). `gcloud functions call NAME
# --gen2` first reads the function (cloudfunctions.functions.get, in roles/cloudfunctions.viewer) to find its
# URL, then sends an identity token the service checks against run.invoker. Anyone else is refused with 403.
locals {
  operator_invokers = {
    for pair in setproduct(keys(local.operator_functions), var.operators) :
    "${pair[0]}/${pair[1]}" => { function = pair[0], member = pair[1] }
  }
}

resource "google_cloud_run_v2_service_iam_member" "operator_invoker" {
  for_each = local.operator_invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn[each.value.function].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

resource "google_project_iam_member" "operator_functions_viewer" {
  for_each = toset(var.operators)

  project = var.project_id
  role    = "roles/cloudfunctions.viewer"
  member  = each.value
}

# `tron ops pause|resume|status` for the operators: list, read, pause and resume (enable) Cloud Scheduler
# jobs, nothing else (roles/cloudscheduler.admin would also let them create, change and delete jobs).
resource "google_project_iam_custom_role" "schedule_operator" {
  role_id     = "tronScheduleOperator"
  title       = "TRON schedule operator"
  description = "Pause and resume TRON's Cloud Scheduler jobs (tron ops)."
  permissions = [
    "cloudscheduler.jobs.enable",
    "cloudscheduler.jobs.get",
    "cloudscheduler.jobs.list",
    "cloudscheduler.jobs.pause",
  ]
}

resource "google_project_iam_member" "schedule_operator" {
  for_each = toset(var.operators)

  project = var.project_id
  role    = google_project_iam_custom_role.schedule_operator.id
  member  = each.value
}

# The one public function: Telegram cannot authenticate to Cloud Run, so telegram-webhook is invocable by
# allUsers, only when chats are configured. It refuses (403, an audit log line) any request without the
# secret header Telegram sends (X-Telegram-Bot-Api-Secret-Token, the secret telegram-webhook-secret, set with
# setWebhook) and obeys only var.telegram_chat_ids; a repeated update id acts once.
resource "google_cloud_run_v2_service_iam_member" "telegram_public" {
  #checkov:skip=CKV_GCP_102:Telegram's webhook cannot present an identity token; the function authenticates each update by its secret header and chat allowlist
  count = length(var.telegram_chat_ids) > 0 ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.fn["telegram_webhook"].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}
