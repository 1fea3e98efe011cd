# syntax=docker/dockerfile:1
# driftwatch service image: multi-stage, slim, non-root, pinned base.
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/driftwatch
ENV PATH=/opt/driftwatch/bin:$PATH
COPY pyproject.toml README.md constraints.txt ./
COPY monitor ./monitor
COPY alerts ./alerts
COPY dashboard ./dashboard
# Every dependency at the exact version the test suite ran with (constraints.txt).
RUN pip install --no-cache-dir --upgrade pip && pip install --no-cache-dir -c constraints.txt .

FROM python:3.11.11-slim-bookworm
# LightGBM's wheel links the system OpenMP runtime (libgomp), which slim images lack.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system driftwatch && useradd --system --gid driftwatch --home /var/lib/driftwatch \
    --create-home driftwatch
COPY --from=build /opt/driftwatch /opt/driftwatch
ENV PATH=/opt/driftwatch/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DRIFTWATCH_CONFIG=/etc/driftwatch/driftwatch.yaml
WORKDIR /var/lib/driftwatch
USER driftwatch
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys; from monitor.config import load_config; from monitor.store.engine import create_store_engine; from monitor.store.schema import require_schema; require_schema(create_store_engine(load_config().store))"]
ENTRYPOINT ["driftwatch"]
CMD ["run"]
