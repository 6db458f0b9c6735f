# The image that serves lofte's deployments (docker-compose.yml, service `lofte`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# The runtime lock first, in a layer of its own: every package pinned with its hashes (transitive ones
# included), so two builds install the same set, and a code change does not reinstall the dependencies.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# Everything not excluded by .dockerignore (no .env, no .venv, no tests, no warehouse files).
COPY . .
# A regular (non-editable) install without dependencies (the lock has them all): the deployments'
# entrypoints are module paths (flows.nightly...), importable from site-packages whatever the directory.
RUN pip install --no-deps . && pip check && rm -rf /src

# Runs never need root; /config and /inbox are mounted read-only.
RUN useradd --create-home --uid 10001 lofte
USER lofte
WORKDIR /home/lofte

ENV LOFTE_CONFIG_DIR=/config \
    LOFTE_INBOX_DIR=/inbox

CMD ["python", "-m", "flows.deployments"]
