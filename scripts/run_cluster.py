"""The production topology as plain processes: N Rasa replicas and M action servers behind nginx, on the
PostgreSQL and Redis given in the environment. The same shape as docker-compose.yml, for a machine
without containers; the scale-out tests and `make bench` start it too.

    make cluster                                   # 2 replicas, 1 action server, nginx on :8080
    .venv/bin/python scripts/run_cluster.py --replicas 3 --action-servers 2 --port 8080

Environment: DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD (PostgreSQL: the tracker store and the
progress database; the database is created if missing), REDIS_HOST, REDIS_PORT, SECONDLOOK_API_TOKEN (else
the one `make run` keeps in var/api_token), SECONDLOOK_ACTION_TOKEN (else one made for the run). Tokens
reach the servers through the environment, never their command lines (where `ps` shows them).
"""

import argparse
import os
import secrets
import signal
import tempfile
import time
from pathlib import Path

from secondlook.devtools.cluster import Cluster, production_environment
from secondlook.paths import PROJECT_ROOT


def ensure_database(env: dict[str, str]) -> None:
    from sqlalchemy import create_engine, text

    server = f"postgresql+psycopg2://{env['DB_USER']}:{env['DB_PASSWORD']}@{env['DB_HOST']}:{env['DB_PORT']}/postgres"
    admin = create_engine(server, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": env["DB_NAME"]})
        if not exists.scalar():
            connection.execute(text(f'CREATE DATABASE "{env["DB_NAME"]}"'))
    admin.dispose()


def api_token_file() -> str:
    """The HTTP API token `make run` keeps in var/api_token (made once, readable only by this user)."""
    path = PROJECT_ROOT / "var" / "api_token"
    if not path.exists() or not path.read_text().strip():
        path.parent.mkdir(exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--action-servers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    env = production_environment(os.environ.get("DB_NAME", "secondlook"), os.environ.get("DB_HOST", "127.0.0.1"))
    env.update({name: os.environ[name] for name in env if name in os.environ})
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = (
            f"postgresql+psycopg2://{env['DB_USER']}:{env['DB_PASSWORD']}@{env['DB_HOST']}:{env['DB_PORT']}/"
            f"{env['DB_NAME']}"
        )
    ensure_database(env)
    token = os.environ.get("SECONDLOOK_API_TOKEN") or api_token_file()
    with tempfile.TemporaryDirectory(prefix="secondlook-cluster-") as tmp:
        cluster = Cluster(Path(tmp), env, args.replicas, args.action_servers, port=args.port, api_token=token)
        print(f"starting {args.replicas} Rasa replica(s), {args.action_servers} action server(s), nginx; logs in {tmp}")
        started = time.monotonic()
        try:
            cluster.start()
            print(f"ready in {time.monotonic() - started:.0f} s: {cluster.url}/webhooks/rest/webhook (Ctrl-C stops)")
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
