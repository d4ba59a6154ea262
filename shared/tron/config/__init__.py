"""What TRON is configured with: the settings (config/tron.yaml and TRON_ variables, validated) and the
schedule of the scheduler jobs (tron/data/jobs.yaml, shared with terraform)."""
