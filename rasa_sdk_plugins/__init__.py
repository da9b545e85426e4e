"""The action server's guard, attached through rasa_sdk's plugin hook: `rasa run actions` imports a
top-level package of this name if there is one (rasa_sdk/plugin.py, from the project root, which
Rasa's CLI puts on the path) and lets it extend the Sanic app before the server starts.

The action server runs any action for any sender id it is told, with the whole conversation in the
call, so only the Rasa server may call it: every request but `GET /health` must carry
`Authorization: Bearer <SECONDLOOK_ACTION_TOKEN>` (endpoints.yml and deploy/endpoints.production.yml
make Rasa send it), else 401. Without a token the server does not start (`make run` generates one);
in production it also needs the secrets of secondlook/deployment.py.
"""

import hmac
import logging
import os
import sys

import pluggy
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from secondlook.deployment import check_secrets

logger = logging.getLogger(__name__)

hookimpl = pluggy.HookimplMarker("rasa_sdk")
TOKEN_VARIABLE = "SECONDLOOK_ACTION_TOKEN"
OPEN_PATHS = frozenset({"/health"})  # for load balancers and start-up checks: says nothing


def init_hooks(manager: pluggy.PluginManager) -> None:
    """Called by rasa_sdk's plugin discovery."""
    manager.register(sys.modules[__name__])


def action_token() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise SystemExit(
            f"SecondLook action server: {TOKEN_VARIABLE} must be set (the Rasa server sends it with every call;"
            " `make run` generates one into var/action_token)"
        )
    return token


@hookimpl
def attach_sanic_app_extensions(app: Sanic) -> None:
    check_secrets("the action server")
    expected = f"Bearer {action_token()}".encode()

    async def require_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return None
        logger.warning("refused a %s %s without the action token", request.method, request.path)
        return response.json({"error": "this server answers only the Rasa server (action token missing)"}, status=401)

    app.register_middleware(require_token, "request")
