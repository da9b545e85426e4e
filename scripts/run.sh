#!/usr/bin/env bash
# Starts the action server and the Rasa server together, in the foreground; Ctrl-C stops both.
# Called by `make run` with MODEL set to the trained model.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${MODEL:?MODEL must name the trained model (make run sets it)}"
RASA_PORT="${RASA_PORT:-5005}"
ACTION_PORT="${ACTION_PORT:-5055}"
INTERFACE="${SECONDLOOK_INTERFACE:-127.0.0.1}"
mkdir -p var

# The HTTP API (/conversations/...) is always behind a token. Without one in the environment, a random
# token is made once and kept in var/api_token (readable only by this user).
if [ -z "${SECONDLOOK_API_TOKEN:-}" ]; then
  if [ ! -s var/api_token ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > var/api_token)
  fi
  SECONDLOOK_API_TOKEN="$(cat var/api_token)"
  echo "HTTP API token: var/api_token"
fi

# Both servers read the same endpoints file: the action server counts what the tracker store keeps
# of a user when asked "what do you keep about me?" (actions/privacy_actions.py).
export ENDPOINTS="${ENDPOINTS:-endpoints.yml}"

# The action server answers only on loopback (rasa_sdk reads SANIC_HOST; its own default is 0.0.0.0):
# it runs any action for any sender id it is told, so only the Rasa server may reach it.
SANIC_HOST="${SECONDLOOK_ACTION_INTERFACE:-127.0.0.1}" .venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" &
action_server=$!
trap 'kill "$action_server" 2>/dev/null; wait "$action_server" 2>/dev/null' EXIT INT TERM

# The token goes through the environment, not the command line (where `ps` shows it): scripts/rasa_server.py.
export SECONDLOOK_API_TOKEN
.venv/bin/python scripts/rasa_server.py --model "$MODEL" --interface "$INTERFACE" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints "$ENDPOINTS"
