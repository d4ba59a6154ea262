# The sweep job's image (infra/terraform/sweep.tf): the tron package on its pinned requirements. Each
# container is one Cloud Run task of a sweep: `tron sweep-task` reads CLOUD_RUN_TASK_INDEX/COUNT and
# TRON_SWEEP_RUN, runs its share of the run's backtests and writes its result object to the archive bucket.
# Built and pushed by Cloud Build (cloudbuild.yaml, step sweep-image); `docker build .` from the repository.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# The requirements first: their layer is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY pyproject.toml .
COPY shared/ shared/
RUN pip install --no-deps . && rm -rf /app/shared

# No configuration file: the settings come from the job's environment (TRON_BACKEND=gcp, the bucket).
RUN useradd --create-home --uid 10001 tron
USER tron
WORKDIR /home/tron
ENTRYPOINT ["tron", "sweep-task"]
