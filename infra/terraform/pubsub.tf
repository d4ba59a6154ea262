locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "orders" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages are order intents (no credentials) and a CMEK key ring would add key management to a single-operator system.
  name                       = "orders"
  message_retention_duration = "86400s"
  labels                     = { app = "tron" }

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "orders_dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption; messages are order intents (no credentials) and a CMEK key ring would add key management to a single-operator system.
  name                       = "orders-dead-letter"
  message_retention_duration = "604800s"
  labels                     = { app = "tron" }

  depends_on = [google_project_service.api]
}

# Push delivery to execute-order, authenticated with an OIDC token of the push service account. Delivery is
# at least once: the executor is idempotent (intent claim in Firestore, Kite order tag), so a redelivery is
# harmless. After max_delivery_attempts a message moves to the dead-letter topic and an alert fires.
resource "google_pubsub_subscription" "orders_push" {
  name                       = "orders-execute-order"
  topic                      = google_pubsub_topic.orders.id
  ack_deadline_seconds       = 60
  message_retention_duration = "3600s"
  labels                     = { app = "tron" }

  push_config {
    push_endpoint = google_cloudfunctions2_function.fn["execute_order"].url

    oidc_token {
      service_account_email = google_service_account.orders_push.email
      audience              = google_cloudfunctions2_function.fn["execute_order"].url
    }
  }

  retry_policy {
    minimum_backoff = "5s"
    maximum_backoff = "60s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.orders_dead_letter.id
    max_delivery_attempts = 10
  }

  expiration_policy {
    ttl = "" # never expires for inactivity (weekends, holidays)
  }
}

# Dead letters are kept here for inspection and replay; its backlog is what the dead-letter alert watches.
resource "google_pubsub_subscription" "orders_dead_letter" {
  name                       = "orders-dead-letter-hold"
  topic                      = google_pubsub_topic.orders_dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  labels                     = { app = "tron" }

  expiration_policy {
    ttl = ""
  }
}

# Publishers of order intents.
resource "google_pubsub_topic_iam_member" "orders_publisher" {
  for_each = { for k, v in local.functions : k => v if v.publishes }

  topic  = google_pubsub_topic.orders.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.fn[each.key].email}"
}

# What the Pub/Sub service agent needs: mint OIDC tokens for the push account, forward dead letters, and
# acknowledge the messages it forwarded.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  service_account_id = google_service_account.orders_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letter_publisher" {
  topic  = google_pubsub_topic.orders_dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_subscriber" {
  subscription = google_pubsub_subscription.orders_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
