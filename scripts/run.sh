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

# A secret from the environment, else made once into var/<file> (readable only by this user) and kept.
secret() {
  local name="$1" file="var/$2"
  if [ -z "${!name:-}" ]; then
    if [ ! -s "$file" ]; then
      (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > "$file")
    fi
    printf -v "$name" '%s' "$(cat "$file")"
  fi
  export "${name?}"
}

# The HTTP API (/conversations/...) is always behind a token; the action server answers only the Rasa
# server, which sends it a token of its own (endpoints.yml); summary links are signed with a key that
# is neither of them nor the id salt. Without them in the environment they are made once into var/.
[ -n "${SECONDLOOK_API_TOKEN:-}" ] || echo "HTTP API token: var/api_token"
secret SECONDLOOK_API_TOKEN api_token
secret SECONDLOOK_ACTION_TOKEN action_token
secret SECONDLOOK_LINK_SECRET link_secret
# The id salt is not made here (a new salt would orphan the progress stored under the old one): without
# SECONDLOOK_ID_SALT both servers warn that they use the public development salt (secondlook/deployment.py).

# Both servers read the same endpoints file: the action server counts what the tracker store keeps
# of a user when asked "what do you keep about me?" (actions/privacy_actions.py).
export ENDPOINTS="${ENDPOINTS:-endpoints.yml}"

# The action server answers only on loopback (rasa_sdk reads SANIC_HOST; its own default is 0.0.0.0):
# it runs any action for any sender id it is told, so only the Rasa server may reach it.
SANIC_HOST="${SECONDLOOK_ACTION_INTERFACE:-127.0.0.1}" .venv/bin/rasa run actions --actions actions --port "$ACTION_PORT" &
action_server=$!
trap 'kill "$action_server" 2>/dev/null; wait "$action_server" 2>/dev/null' EXIT INT TERM

# The tokens go through the environment, not the command line (where `ps` shows it): scripts/rasa_server.py.
.venv/bin/python scripts/rasa_server.py --model "$MODEL" --interface "$INTERFACE" --port "$RASA_PORT" \
  --credentials credentials.yml --endpoints "$ENDPOINTS"
