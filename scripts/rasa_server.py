"""`rasa run` with the HTTP API always on and behind the token from SECONDLOOK_API_TOKEN.

The token is added to Rasa's arguments inside this process, so it never appears on a command line,
where `ps` would show it to every user of the machine. A production process (secondlook/deployment.py)
without secrets of its own stops here, before the model is loaded. Request bodies are limited to 1 MB
(Sanic's `SANIC_REQUEST_MAX_SIZE`, which overrides it): Sanic's own limit is 100 MB, read into memory
before any channel can refuse a body or check who sent it. Usage: the arguments of `rasa run`,
e.g. `SECONDLOOK_API_TOKEN=... python scripts/rasa_server.py --model models/x.tar.gz --port 5005`.
"""

import os
import sys

from secondlook.deployment import check_secrets

# As nginx's client_max_body_size (deploy/nginx/nginx.conf); REST itself takes at most 64 KB.
MAX_REQUEST_BYTES = 1024 * 1024

if __name__ == "__main__":
    token = os.environ.get("SECONDLOOK_API_TOKEN", "").strip()
    if not token:
        sys.exit("SECONDLOOK_API_TOKEN must be set: the HTTP API is never served without a token")
    check_secrets("the Rasa server")
    # Sanic reads SANIC_* variables into the app's configuration when Rasa creates the app.
    os.environ.setdefault("SANIC_REQUEST_MAX_SIZE", str(MAX_REQUEST_BYTES))

    from rasa.__main__ import main

    sys.argv = ["rasa", "run", *sys.argv[1:], "--enable-api", "--auth-token", token]
    main()
