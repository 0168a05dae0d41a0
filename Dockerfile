# syntax=docker/dockerfile:1
# The controller image: `wfe run` as a non-root user, with curl for the runbooks' in-pod checks
# (docs/deploy.md). Build from the repository root:
#   docker build -t REGISTRY/workflow-execution:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the project's wheel and the wheels of its dependencies ------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip wheel --wheel-dir /wheels .

# --- final: the wheel installed into a virtualenv, nothing else of the source tree -------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="workflow-execution" \
      org.opencontainers.image.description="WorkflowExecution controller for Kubernetes" \
      org.opencontainers.image.licenses="Apache-2.0"
# curl: the runbooks run `kubectl exec deploy/workflow-execution -- curl localhost:9090/metrics`.
# Unpinned on purpose: the base image's Debian release pins the series, and security updates
# should land on every rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 wfe \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin wfe
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/wfe/bin:$PATH
# Only the wheels: the project is installed from its wheel, offline, never from the source tree.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/wfe \
 && /opt/wfe/bin/pip install --no-index --find-links=/wheels /wheels/wfe-*.whl \
 && wfe --help >/dev/null
# Numeric, so the kubelet can check runAsNonRoot (the chart runs it as 10001 too).
USER 10001:10001
EXPOSE 9090 8081
ENTRYPOINT ["wfe", "run"]
