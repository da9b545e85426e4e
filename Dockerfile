# One image for both roles of SecondLook: the Rasa server (default command) and the action server
# (docker-compose.yml overrides the command). Built with the project's own Makefile, so the image holds
# exactly what `make train` makes on a machine: the locked venv, the spaCy pipeline, the chat page and
# the model trained from the sources in the build context (about 7 minutes on 2 cores).
#   docker build -t secondlook .
#   docker compose up --build        # the whole production topology (docker-compose.yml)
FROM python:3.10-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends make nodejs npm build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock Makefile ./
RUN python3.10 -m venv .venv \
 && .venv/bin/pip install --quiet --require-hashes --no-deps -r requirements.lock
COPY . .
RUN make train \
 && rm -rf web/node_modules

FROM python:3.10-slim-bookworm
RUN useradd --create-home --uid 1000 secondlook
WORKDIR /app
COPY --from=build --chown=secondlook /app /app
USER secondlook
# Every container of this image is a production process (secondlook/deployment.py): both servers refuse to
# start without secrets of their own, and REST is off unless SECONDLOOK_REST_TOKEN is set.
ENV PATH=/app/.venv/bin:$PATH \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONHASHSEED=0 \
    SECONDLOOK_DEPLOYMENT=production
EXPOSE 5005 5055
# The HTTP API is always behind SECONDLOOK_API_TOKEN, which scripts/rasa_server.py reads from the
# environment: on a command line `ps` would show it.
CMD ["python", "scripts/rasa_server.py", "--model", "models", "--port", "5005", "--credentials", "credentials.yml", "--endpoints", "deploy/endpoints.production.yml"]
