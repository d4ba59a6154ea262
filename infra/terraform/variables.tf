variable "project_id" {
  description = "Google Cloud project that runs TRON."
  type        = string
}

variable "region" {
  description = "Region of the functions, scheduler jobs, buckets, connector and NAT (Mumbai is nearest the NSE)."
  type        = string
  default     = "asia-south1"
}

variable "firestore_location" {
  description = "Firestore location (a region or multi-region); cannot change after creation."
  type        = string
  default     = "asia-south1"
}

variable "alert_email" {
  description = "Address of the e-mail notification channel every alert policy notifies."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address: every alert is mailed there."
  }
}

variable "enable_static_egress" {
  description = "Route the functions' egress through a VPC connector and Cloud NAT on one reserved static IP (Kite accepts orders only from a registered IP since April 2026)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Days after which logs, replays and reports are deleted from the archive bucket (option chains are kept)."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 30
    error_message = "Keep logs and reports at least 30 days."
  }
}

variable "trading_mode" {
  description = "TRON_MODE of every function: paper (default), or live: Kite orders on the days an operator arms with `tron live arm` (paper fills on the others). live needs market_data = \"kite\" and enable_static_egress."
  type        = string
  default     = "paper"

  validation {
    condition     = contains(["paper", "live"], var.trading_mode)
    error_message = "trading_mode must be paper or live."
  }
}

variable "market_data" {
  description = "Where the functions read quotes: kite (Kite Connect at https://api.kite.trade, after the daily login; fills stay paper) or generated (the seeded simulated market, no Kite account needed)."
  type        = string
  default     = "kite"

  validation {
    condition     = contains(["kite", "generated"], var.market_data)
    error_message = "market_data must be kite or generated."
  }
}

variable "mount_secrets" {
  description = "Also expose each function's secrets as TRON_SECRET_* environment variables. Off by default: deployed functions read secrets through the Secret Manager API (tron.adapters.secretmanager, cached 300 s), which sees each morning's new kite_access_token version; a mounted value is fixed when the instance starts, and deploying fails while a mounted secret has no version."
  type        = bool
  default     = false
}

variable "pause_schedules" {
  description = "Create the Cloud Scheduler jobs paused (nothing fires). Only read when a job is created: afterwards pause and resume with `tron ops pause|resume`, which terraform leaves alone."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the Firestore database and the buckets against terraform destroy."
  type        = bool
  default     = true
}

variable "http_ingress" {
  description = "Ingress of the scheduled HTTP functions. Internal traffic includes Cloud Scheduler and Pub/Sub of the same project."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}

variable "manual_ingress" {
  description = "Ingress of square-off, which an operator may also call by hand (`gcloud functions call square-off`). Authentication stays required either way."
  type        = string
  default     = "ALLOW_ALL"
}

variable "connector_cidr" {
  description = "Unused /28 of the TRON VPC for the Serverless VPC Access connector."
  type        = string
  default     = "10.8.0.0/28"
}

variable "operators" {
  description = "Principals allowed to call square-off and kite-login by hand, e.g. [\"user:you@example.com\"]. Public principals are refused."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.operators : can(regex("^(user|group|serviceAccount):[^@\\s]+@[^@\\s]+$", m))])
    error_message = "Each operator is user:EMAIL, group:EMAIL or serviceAccount:EMAIL (never allUsers or allAuthenticatedUsers)."
  }
}

variable "telegram_chat_ids" {
  description = "Telegram chat ids that get TRON's notifications and whose commands the telegram-webhook function obeys; empty: Telegram off (the webhook stays private)."
  type        = list(number)
  default     = []
}
