# The Rectify service: `rectify db upgrade`, then `rectify serve` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Install the project (code, templates, static files and the `rectify` command) into the
# image's Python; the build folder is removed afterwards.
WORKDIR /src
COPY pyproject.toml ./
COPY app ./app
RUN pip install . && rm -rf /src

# The schema migrations are not part of the package: `rectify db upgrade` reads them from
# the working directory.
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin rectify \
    && mkdir -p /app/data/uploads \
    && chown -R rectify:rectify /app/data
USER rectify

ENV ENVIRONMENT=production \
    UPLOAD_DIR=/app/data/uploads

EXPOSE 8000
CMD ["rectify", "serve", "--host", "0.0.0.0", "--port", "8000"]
