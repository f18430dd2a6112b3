# 选品 Xuanpin bot: `docker build -t xuanpin .` then see compose.yaml for PostgreSQL, Redis and replicas.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
COPY jobs ./jobs
RUN pip install .

# Never run as root: the bot needs no privilege, only its port.
RUN useradd --create-home --uid 10001 xuanpin
USER xuanpin
WORKDIR /home/xuanpin

EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
CMD ["python", "-m", "bot", "run"]
