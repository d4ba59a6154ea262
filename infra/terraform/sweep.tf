# Parameter sweeps and walk-forward windows on a Cloud Run job (`tron optimize --runner cloud-run --tasks N`),
# only with enable_sweep_job: nothing here exists, and nothing is billed, otherwise. An execution's tasks run
# `tron sweep-task` (shared/tron/cli/sweep_task.py), each its share of the run named by TRON_SWEEP_RUN, reading
# and writing sweeps/ of the archive bucket. Its service account may touch only those objects. The image is
# built from the repository's Dockerfile and set on the job by Cloud Build (cloudbuild.yaml, steps
# sweep-image and sweep-deploy); terraform creates the job with Google's placeholder job image and then leaves
# the image alone.

variable "enable_sweep_job" {
  description = "Create the Cloud Run job (and its Artifact Registry repository and service account) that `tron optimize --runner cloud-run` runs sweeps on. Billed only while an execution runs (~$0.08 per task-hour at 1 vCPU and 2 GiB)."
  type        = bool
  default     = false
}

variable "sweep_task_resources" {
  description = "CPU and memory of each sweep task. The bars are downloaded to the task's in-memory file system, so memory holds them and the backtest."
  type        = object({ cpu = string, memory = string })
  default     = { cpu = "1", memory = "2Gi" }
}

variable "sweep_parallelism" {
  description = "Most tasks of one execution running at once (0: as many as the region's quota allows)."
  type        = number
  default     = 20

  validation {
    condition     = var.sweep_parallelism >= 0 && var.sweep_parallelism <= 1000
    error_message = "sweep_parallelism must be 0 … 1000."
  }
}

locals {
  sweep      = var.enable_sweep_job ? toset(["sweep"]) : toset([])
  sweep_repo = "tron"
  # Where Cloud Build pushes the image; the job starts on Google's sample job image until the first push.
  sweep_image       = "${var.region}-docker.pkg.dev/${var.project_id}/${local.sweep_repo}/sweep"
  sweep_placeholder = "us-docker.pkg.dev/cloudrun/container/job:latest"
  # The objects the job and the operators' sweeps use: sweeps/ of the archive bucket, nothing else.
  sweep_objects = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.logs.name}/objects/sweeps/\")"
}

resource "google_artifact_registry_repository" "tron" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption; the images hold TRON's open code and pinned public packages, no credentials or data, and a CMEK key ring would add key management to a single-operator system.
  for_each = local.sweep

  location      = var.region
  repository_id = local.sweep_repo
  format        = "DOCKER"
  description   = "TRON images: the sweep job's (Dockerfile, pushed by Cloud Build)."
  labels        = { app = "tron" }

  # Every build pushes a new image: keep the five most recent, delete the rest after a week.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 5
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "604800s"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_service_account" "sweep" {
  for_each = local.sweep

  account_id   = "tron-sweep"
  display_name = "TRON sweep job (Cloud Run)"
}

# Read and write sweeps/ of the archive bucket (a retried task overwrites its result object, hence objectUser
# rather than objectCreator); no project role at all (Cloud Run collects the task's logs itself).
resource "google_storage_bucket_iam_member" "sweep_objects" {
  for_each = local.sweep

  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectUser"
  member = "serviceAccount:${google_service_account.sweep[each.key].email}"

  condition {
    title      = "sweeps/ only"
    expression = local.sweep_objects
  }
}

resource "google_cloud_run_v2_job" "sweep" {
  for_each = local.sweep

  name                = "tron-sweep"
  location            = var.region
  labels              = { app = "tron" }
  deletion_protection = false # stateless: results live in the bucket

  template {
    task_count  = 1 # each execution sets its own (--tasks)
    parallelism = var.sweep_parallelism

    template {
      service_account = google_service_account.sweep[each.key].email
      timeout         = "3600s"
      max_retries     = 2 # a retried task rewrites the same result object, or skips when it is there

      containers {
        name    = "sweep" # tron.adapters.cloud_run_jobs.CONTAINER: the run's environment override targets it
        image   = local.sweep_placeholder
        command = ["tron", "sweep-task"]

        resources {
          limits = var.sweep_task_resources
        }

        env {
          name  = "TRON_BACKEND"
          value = "gcp"
        }
        env {
          name  = "GOOGLE_CLOUD_PROJECT"
          value = var.project_id
        }
        env {
          name  = "TRON_ARCHIVE_BUCKET"
          value = google_storage_bucket.logs.name
        }
      }
    }
  }

  lifecycle {
    # Cloud Build's sweep-deploy step sets the image it built; gcloud also stamps client fields.
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_project_service.api, google_storage_bucket_iam_member.sweep_objects]
}

# The operators (var.operators) run sweeps: start executions with overrides (the task count, the run id) and
# read their state (roles/run.viewer on this job only), and read and write sweeps/ of the archive bucket
# (the bars, tasks.json and the results).
locals {
  sweep_operator_roles = ["roles/run.jobsExecutorWithOverrides", "roles/run.viewer"]
  sweep_operator_grants = {
    for pair in setproduct(tolist(local.sweep), local.sweep_operator_roles, var.operators) :
    "${pair[1]}/${pair[2]}" => { role = pair[1], member = pair[2] }
  }
}

resource "google_cloud_run_v2_job_iam_member" "sweep_operator" {
  for_each = local.sweep_operator_grants

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.sweep["sweep"].name
  role     = each.value.role
  member   = each.value.member
}

resource "google_storage_bucket_iam_member" "sweep_operator_objects" {
  for_each = var.enable_sweep_job ? toset(var.operators) : toset([])

  bucket = google_storage_bucket.logs.name
  role   = "roles/storage.objectUser"
  member = each.value

  condition {
    title      = "sweeps/ only"
    expression = local.sweep_objects
  }
}

output "sweep_job" {
  description = "The sweep job's full name (`tron optimize --runner cloud-run --job` takes its last part); empty without enable_sweep_job."
  value       = var.enable_sweep_job ? "projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.sweep["sweep"].name}" : ""
}

output "sweep_image" {
  description = "Where Cloud Build pushes the sweep image (tagged with the build id); empty without enable_sweep_job."
  value       = var.enable_sweep_job ? local.sweep_image : ""
}
