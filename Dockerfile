# syntax=docker/dockerfile:1
# Build stage: turn the project and its dependencies into wheels.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY templates ./templates
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Run stage: wheels only, no compiler, no sources, no secrets.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    DATABASE_URL=sqlite+aiosqlite:////data/inference-bot.db
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels inference-bot \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --home-dir /data --create-home bot
USER bot
WORKDIR /data
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"HEALTH_PORT\", os.environ[\"PORT\"])}/healthz', timeout=2)"
ENTRYPOINT ["inference-bot"]
CMD ["run"]
