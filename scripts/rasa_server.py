"""`rasa run` with the HTTP API always on and behind the token from SECONDLOOK_API_TOKEN.

The token is added to Rasa's arguments inside this process, so it never appears on a command line,
where `ps` would show it to every user of the machine. A production process (actions/deployment.py)
without secrets of its own stops here, before the model is loaded. Usage: the arguments of `rasa run`,
e.g. `SECONDLOOK_API_TOKEN=... python scripts/rasa_server.py --model models/x.tar.gz --port 5005`.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.deployment import check_secrets  # noqa: E402

if __name__ == "__main__":
    token = os.environ.get("SECONDLOOK_API_TOKEN", "").strip()
    if not token:
        sys.exit("SECONDLOOK_API_TOKEN must be set: the HTTP API is never served without a token")
    check_secrets("the Rasa server")

    from rasa.__main__ import main

    sys.argv = ["rasa", "run", *sys.argv[1:], "--enable-api", "--auth-token", token]
    main()
