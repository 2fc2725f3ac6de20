# The ssot_pipelines code location: one image for the code server, run pods and Celery workers.
# Multi-stage: the build stage makes a virtualenv; the final stage copies only that venv onto a slim
# Python, runs as a non-root user, and has no compiler or build tools (every dependency is a wheel).
#
#   docker build -t ssot-pipelines:0.1.0 .
#   docker run --env-file .env -p 4000:4000 ssot-pipelines:0.1.0
#
# No ENTRYPOINT on purpose: the Dagster Helm chart starts the code server, run pods and Celery workers by
# passing `args` (dagster code-server start ..., dagster api execute_run ..., ssot celery worker), and an
# ENTRYPOINT would be prepended to every one of them. CMD is the default: the code server.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml setup.cfg README.md ./
COPY ssot_pipelines ./ssot_pipelines
RUN /opt/venv/bin/python -m pip install --no-cache-dir .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 ssot \
    && useradd --system --uid 10001 --gid ssot --home-dir /opt/dagster --create-home ssot \
    && install -d -o ssot -g ssot /opt/dagster/app /opt/dagster/dagster_home /opt/dagster/ssot
COPY --from=build /opt/venv /opt/venv
COPY --chown=ssot:ssot workspace.yaml /opt/dagster/app/
# the instance config; the Helm chart mounts its own dagster.yaml over it
COPY --chown=ssot:ssot dagster.yaml /opt/dagster/dagster_home/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    SSOT_HOME=/opt/dagster/ssot
WORKDIR /opt/dagster/app
USER 10001:10001
EXPOSE 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "ssot_pipelines.definitions"]
