FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN pip install .

# Run as an unprivileged user; the database lives on a volume.
RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data
USER bot
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:////data/bot.db
# The HTTP server (webhook mode, or HTTP_PORT with polling): set HTTP_LISTEN=0.0.0.0 to reach it.
EXPOSE 8080

CMD ["python", "-m", "bot"]
