# Multi-stage build: the locked dependencies (requirements/service.txt, hash-checked) and the
# service's own wheel are built in the first stage; the runtime image is slim and runs as an
# unprivileged user. Migrations run before the service starts.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip wheel
COPY requirements/service.txt ./requirements/service.txt
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements/service.txt
COPY pyproject.toml ./
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --create-home --uid 10001 service
WORKDIR /srv
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --no-deps /wheels/*.whl && rm -rf /wheels
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
USER service
EXPOSE 8000
# `python -m app.worker` runs the auto-create workers from the same image.
# uvicorn bounds what it can: idle keep-alive connections close after 5 s, and past
# UVICORN_LIMIT_CONCURRENCY open connections per process new requests get 503. It has no
# deadline for reading request headers: run it behind a proxy that has (docs/security.md).
CMD ["sh", "-c", "alembic upgrade head && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --workers ${WEB_CONCURRENCY:-2} --loop uvloop --http httptools --no-access-log --timeout-keep-alive 5 --limit-concurrency ${UVICORN_LIMIT_CONCURRENCY:-1000}"]
