output "function_urls" {
  description = "URL of each function, by entry point."
  value       = { for k, f in google_cloudfunctions2_function.fn : k => f.url }
}

output "static_egress_ip" {
  description = "The address to register with Kite as the static IP (null without static egress)."
  value       = var.enable_static_egress ? google_compute_address.egress[0].address : null
}

output "orders_topic" {
  value = google_pubsub_topic.orders.id
}

output "log_bucket" {
  value = google_storage_bucket.logs.name
}

output "scheduler_targets" {
  description = "The function each Cloud Scheduler job invokes, by job name."
  value       = { for name, job in local.jobs : name => google_cloudfunctions2_function.fn[job.function].name }
}

output "operator_functions" {
  description = "Functions an operator calls by hand (gcloud functions call NAME --gen2 --region REGION); kite-login is the Kite app's redirect target, reached through `gcloud run services proxy kite-login`."
  value       = sort([for k, f in local.operator_functions : replace(k, "_", "-")])
}

output "telegram_webhook_url" {
  description = "Give it to Telegram's setWebhook with the secret telegram-webhook-secret (README: From your phone); public only with telegram_chat_ids."
  value       = google_cloudfunctions2_function.fn["telegram_webhook"].service_config[0].uri
}
