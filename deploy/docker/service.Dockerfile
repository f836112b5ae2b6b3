# One image per service, built from the workspace root:
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=engine  -t junction-engine .
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=control -t junction-control .
# Each image holds only its own service's dependency closure (uv sync --package).
ARG PYTHON=3.11-slim-bookworm

FROM python:${PYTHON} AS build
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs libs
COPY services services
RUN test -n "$SERVICE" && uv sync --locked --no-dev --no-editable --package "junction-${SERVICE}"

FROM python:${PYTHON}
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    JUNCTION_VAR_DIR=/var/lib/junction \
    JUNCTION_ENGINE_HOST=0.0.0.0 \
    JUNCTION_CONTROL_HOST=0.0.0.0 \
    SERVICE=${SERVICE}
RUN useradd --system --uid 10001 --home-dir /var/lib/junction --create-home junction \
    && install -d -o 10001 -g 10001 -m 0700 /var/lib/junction/spool
COPY --from=build /app/.venv /app/.venv
USER 10001
WORKDIR /var/lib/junction
EXPOSE 8090 8081 8082
# `junction-engine` or `junction-control serve`; the deployments run
# `junction-control migrate` once, as its own step, before any `serve`.
# The root filesystem may be read-only: an engine writes only its spool
# (/var/lib/junction/spool, a volume), control nothing when its keys come
# from the environment.
CMD ["sh", "-c", "if [ \"$SERVICE\" = control ]; then exec junction-control serve; else exec junction-${SERVICE}; fi"]
