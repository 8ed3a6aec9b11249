# One image for every role: worker, beat, migrate and flower differ only in their command.
#   docker build -t newsworker .
# Dependencies are the exact versions (and file hashes) of requirements.lock, the ones the
# test suite passed on; `.ci/lock && .ci/run` refreshes the lock (see the README).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/newsworker
# The locked dependencies first: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
# Every dependency ships wheels for linux/amd64 and arm64: no compiler in the image.
RUN /opt/newsworker/bin/pip install --no-deps --require-hashes -r requirements.lock
COPY pyproject.toml README.md celeryconfig.py ./
COPY worker ./worker
COPY tasks ./tasks
COPY storage ./storage
# The package itself (with its flower extra, already in the lock); --no-deps: nothing beyond the lock.
RUN /opt/newsworker/bin/pip install --no-deps . \
    && /opt/newsworker/bin/pip check \
    && /opt/newsworker/bin/python -m compileall -q /opt/newsworker

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="newsworker" \
      org.opencontainers.image.description="Event-driven news ingestion worker (Celery + Redis + PostgreSQL)" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged user: nothing in the container runs as root.
RUN groupadd --system --gid 10001 newsworker \
    && useradd --system --uid 10001 --gid newsworker --home-dir /home/newsworker --create-home \
       --shell /usr/sbin/nologin newsworker
COPY --from=build /opt/newsworker /opt/newsworker
# REMAP_SIGTERM: docker stop sends SIGTERM; this makes it Celery's soft shutdown (running
# tasks get NEWSWORKER_WORKER_SOFT_SHUTDOWN_SECONDS, then go back to the queue). See
# docs/production.md. JSON logs: inside a container there is no terminal.
ENV PATH=/opt/newsworker/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REMAP_SIGTERM=SIGQUIT \
    NEWSWORKER_LOG_FORMAT=json
USER newsworker
WORKDIR /home/newsworker
# Prometheus endpoint of the worker (NEWSWORKER_METRICS_PORT).
EXPOSE 9808
CMD ["newsworker", "--help"]
