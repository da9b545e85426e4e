"""Which kind of deployment a process belongs to, and the secrets a production one must have of its own.

Production is declared, never guessed: `SECONDLOOK_DEPLOYMENT=production`. The Docker image sets it
(so every container of docker-compose.yml runs as production); `make run` and the test servers leave
it unset (development). In production the REST channel is off unless it has a token
(channels/rest.py), and both servers refuse to start on the public development secrets: the id salt
(anyone could recompute the progress keys of known sender ids) and the summary-link key (anyone could
sign a link to someone's summary). The two must differ, so that one leaked secret is not both.

A plain module (no Rasa), shared by the Rasa server (scripts/rasa_server.py, channels/preparation.py)
and the action server (rasa_sdk_plugins/).
"""

import logging
import os

logger = logging.getLogger(__name__)

PRODUCTION = "production"
# The public development values: fine on one's own machine, refused in production.
DEV_ID_SALT = "secondlook-dev-salt"
DEV_LINK_SECRET = "secondlook-dev-link-secret"
MIN_SECRET_CHARS = 16
_warned: set[str] = set()  # a process checks at more than one place; it warns once


def link_secret() -> bytes:
    """The key behind every signed link (summaries, data copies), never derived from the id salt:
    knowing one secret must not give the other. `make run` generates one (scripts/run.sh); production
    refuses to start without one (check_secrets)."""
    return (os.environ.get("SECONDLOOK_LINK_SECRET", "").strip() or DEV_LINK_SECRET).encode()


def is_production() -> bool:
    return os.environ.get("SECONDLOOK_DEPLOYMENT", "").strip().lower() == PRODUCTION


def _secret(name: str) -> str:
    return os.environ.get(name, "").strip()


def secret_problems() -> list[str]:
    """What is wrong with the id salt and the link secret for a production deployment (empty: nothing)."""
    salt, link = _secret("SECONDLOOK_ID_SALT"), _secret("SECONDLOOK_LINK_SECRET")
    problems = []
    for name, value, public, why in (
        ("SECONDLOOK_ID_SALT", salt, DEV_ID_SALT, "anyone could recompute the progress keys of known sender ids"),
        ("SECONDLOOK_LINK_SECRET", link, DEV_LINK_SECRET, "anyone could sign a link to someone's summary"),
    ):
        if not value or value == public:
            problems.append(f"{name} is not set to a secret of its own ({why})")
        elif len(value) < MIN_SECRET_CHARS:
            problems.append(f"{name} is too short (at least {MIN_SECRET_CHARS} characters)")
    if salt and salt == link:
        problems.append("SECONDLOOK_ID_SALT and SECONDLOOK_LINK_SECRET must differ (one secret, one job)")
    return problems


def check_secrets(role: str) -> None:
    """Exits when a production `role` (e.g. "the action server") lacks secrets of its own; in
    development only warns, so `make run` works on a fresh clone."""
    problems = secret_problems()
    if not problems:
        return
    if is_production():
        raise SystemExit(f"SecondLook {role}: refusing to start in production: " + "; ".join(problems))
    for problem in sorted(set(problems) - _warned):
        _warned.add(problem)
        logger.warning("%s: %s. Fine on your own machine, not once others reach it: docs/security.md", role, problem)
