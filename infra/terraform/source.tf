# How the functions are packaged. Cloud Functions (2nd gen) builds Python from a zip whose root holds
# main.py and requirements.txt. The repository keeps the entry points in functions/main.py, the `tron`
# package in shared/tron/ and the pinned runtime dependencies in requirements.txt at the root, so the zip is
# staged from all three, without copying anything on disk:
#   functions/main.py      -> main.py
#   shared/tron/**         -> tron/**          (importable as `tron`; bytecode caches left out)
#   requirements.txt       -> requirements.txt (Cloud Build pip-installs it)
#   config/tron.yaml       -> config/tron.yaml (your settings; TRON_CONFIG names it, so a function without
#                             it stops at start-up instead of trading on defaults)
# Each file becomes a `source` block of archive_file. The object name carries the zip's MD5, so any
# change of code or dependencies uploads a new object and redeploys every function; an unchanged tree
# plans no change.
locals {
  repo_root = "${path.module}/../.."

  package_files = merge(
    { for f in fileset("${local.repo_root}/functions", "*.py") : f => "functions/${f}" },
    {
      for f in fileset("${local.repo_root}/shared", "tron/**") : f => "shared/${f}"
      if !strcontains(f, "__pycache__") && !endswith(f, ".pyc")
    },
    { "requirements.txt" = "requirements.txt", "config/tron.yaml" = "config/tron.yaml" },
  )
}

data "archive_file" "functions" {
  type        = "zip"
  output_path = "${path.module}/.build/functions.zip"

  dynamic "source" {
    for_each = local.package_files
    content {
      filename = source.key
      content  = file("${local.repo_root}/${source.value}")
    }
  }
}

resource "google_storage_bucket_object" "functions" {
  name         = "functions-${data.archive_file.functions.output_md5}.zip"
  bucket       = google_storage_bucket.sources.name
  source       = data.archive_file.functions.output_path
  content_type = "application/zip"
}
