"""The production topology as plain processes: N Rasa replicas and M action servers behind nginx, on the
PostgreSQL and Redis given in the environment; the same shape as docker-compose.yml, for a machine without
containers. Started by `make cluster` (scripts/run_cluster.py), `make bench` and the scale-out tests.
Tokens reach the servers through the environment, never their command lines (where `ps` shows them).
"""

import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

import requests

from secondlook.devtools.servers import VENV_BIN, free_port, trained_model, wait_until
from secondlook.paths import PROJECT_ROOT

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PRODUCTION_ENDPOINTS = PROJECT_ROOT / "deploy" / "endpoints.production.yml"
# Limits per client address, the same in deploy/nginx/nginx.conf (a test holds them equal). The app
# limits per sender; a flood that rotates sender ids or web chat sessions still comes from one address.
# Loopback, the host itself (tests, the benchmark), is not limited: an empty key is not counted.
ADDRESS_LIMITS = """\
  geo $address_limited { default 1; 127.0.0.1 0; ::1 0; }
  map $address_limited $address_key { 0 ""; default $binary_remote_addr; }
  limit_req_zone $address_key zone=messages:10m rate=5r/s;
  limit_req_zone $address_key zone=socketio:10m rate=20r/s;
  limit_conn_zone $address_key zone=turns_open:10m;
  limit_conn_zone $address_key zone=sockets_open:10m;
  limit_req_status 429;
  limit_conn_status 429;
"""
# REST: 50 messages at once, then 5 a second, at most 10 turns in progress. socket.io: long-polling
# makes several requests per message, and a socket holds a request open (or is a WebSocket).
REST_LIMITS = """\
      limit_req zone=messages burst=50 nodelay;
      limit_conn turns_open 10;
"""
SOCKETIO_LIMITS = """\
      limit_req zone=socketio burst=100 nodelay;
      limit_conn sockets_open 50;
"""


# What people say, in order, in one conversation with SecondLook (the benchmark, the turn profiler).
SECONDLOOK_CONVERSATION = [
    "hi",
    "I'm not sure my diagnosis is right",
    "how do I bring it up without offending my doctor?",
    "ok, I asked my doctor about it today",
    "what's next",
    "how do I find a specialist outside my network?",
    "can they get my scans?",
    "where am I?",
    "my doctor got defensive when I mentioned it",
    "thanks, bye",
]


def nginx_config(workdir: Path, port: int, action_port: int, replicas: list[str], action_servers: list[str]) -> str:
    """nginx in front of the Rasa replicas (`port`) and of the action servers (`action_port`).

    Each client address is limited (ADDRESS_LIMITS) on REST and socket.io. REST and the HTTP API go to
    the least busy replica: any replica can serve any conversation, the
    lock store keeps one conversation's turns in order. socket.io is sticky by client address, because
    its long-polling handshake keeps state in the replica that answered it.
    """
    rasa = "\n".join(f"    server {address} max_fails=0;" for address in replicas)
    actions = "\n".join(f"    server {address} max_fails=0;" for address in action_servers)
    action_proxy = f"""
  upstream actions {{
    least_conn;
{actions}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{action_port};
    # The action server gets the whole tracker with every call.
    client_max_body_size 16m;
    client_body_buffer_size 16m;
    location / {{
      proxy_pass http://actions;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_read_timeout 120s;
    }}
  }}
"""
    return f"""
worker_processes 1;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/nginx-body;
  proxy_temp_path {workdir}/nginx-proxy;
  fastcgi_temp_path {workdir}/nginx-fastcgi;
  uwsgi_temp_path {workdir}/nginx-uwsgi;
  scgi_temp_path {workdir}/nginx-scgi;
  # Bodies and replies stay in memory: nginx runs unprivileged workers that may not write the temp folder.
  client_max_body_size 1m;
  client_body_buffer_size 1m;
  proxy_buffers 64 16k;
  proxy_max_temp_file_size 0;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' ''; }}
{ADDRESS_LIMITS}
  upstream rasa {{
    least_conn;
{rasa}
    keepalive 64;
  }}
  upstream rasa_sticky {{
    hash $remote_addr consistent;
{rasa}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 120s;
    }}
    location /webhooks/rest/ {{
{REST_LIMITS}      proxy_pass http://rasa;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 120s;
    }}
    location /socket.io/ {{
{SOCKETIO_LIMITS}      proxy_pass http://rasa_sticky;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 120s;
    }}
  }}
{action_proxy if action_servers else ""}
}}
"""


def production_environment(database: str, host: str = "127.0.0.1") -> dict[str, str]:
    """The variables deploy/endpoints.production.yml and the action server read, for a local database."""
    return {
        "DB_HOST": host,
        "DB_PORT": "5432",
        "DB_NAME": database,
        "DB_USER": "postgres",
        "DB_PASSWORD": "",
        "REDIS_HOST": host,
        "REDIS_PORT": "6379",
        "DATABASE_URL": f"postgresql+psycopg2://postgres@{host}:5432/{database}",
    }


class Cluster:
    """Action servers, Rasa replicas and nginx as child processes, all logging into `workdir`."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        replicas: int = 2,
        action_servers: int = 1,
        endpoints: Path = PRODUCTION_ENDPOINTS,
        port: int | None = None,
        api_token: str | None = None,
        model: Path | None = None,
        credentials: Path = PROJECT_ROOT / "credentials.yml",
    ):
        self.workdir = workdir
        self.port = port or free_port()
        self.action_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.replica_ports = [free_port() for _ in range(replicas)]
        self.replica_urls = [f"http://127.0.0.1:{p}" for p in self.replica_ports]
        self.action_ports = [free_port() for _ in range(action_servers)]
        self.endpoints = endpoints
        self.api_token = api_token or secrets.token_urlsafe(32)  # never a fixed value someone could know
        self.model = model
        self.credentials = credentials
        self.env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # The replicas are reached through nginx (or on loopback): its X-Forwarded-For is the client.
            "SECONDLOOK_TRUSTED_PROXY_HEADER": "X-Forwarded-For",
            **env,
            "ACTION_SERVER_URL": f"http://127.0.0.1:{self.action_port}/webhook",
            "SECONDLOOK_API_TOKEN": self.api_token,
            "ENDPOINTS": str(endpoints),  # the action server reads the tracker store it names
        }
        self.env.setdefault("SECONDLOOK_ACTION_TOKEN", secrets.token_urlsafe(32))
        self.processes: list[subprocess.Popen] = []
        self.replicas: list[subprocess.Popen] = []
        self.action_servers: list[subprocess.Popen] = []

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        with open(self.workdir / log_name, "ab") as log:
            process = subprocess.Popen(
                args, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.processes.append(process)
        return process

    def start_nginx(self) -> None:
        conf = self.workdir / "nginx.conf"
        conf.write_text(
            nginx_config(
                self.workdir,
                self.port,
                self.action_port,
                [f"127.0.0.1:{p}" for p in self.replica_ports],
                [f"127.0.0.1:{p}" for p in self.action_ports],
            )
        )
        pid = self.workdir / "nginx.pid"
        self._spawn([NGINX, "-p", str(self.workdir), "-c", str(conf), "-g", f"daemon off; pid {pid};"], "nginx.log")

    def action_server_command(self, port: int) -> list[str]:
        return [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)]

    def replica_command(self, port: int) -> list[str]:
        """A Rasa replica through scripts/rasa_server.py, which takes the API token from the environment."""
        return [
            str(VENV_BIN / "python"), "scripts/rasa_server.py", "--model", str(self.model or trained_model()),
            "--interface", "127.0.0.1", "--port", str(port),
            "--credentials", str(self.credentials), "--endpoints", str(self.endpoints),
        ]  # fmt: skip

    def start(self) -> "Cluster":
        for index, port in enumerate(self.action_ports):
            self.action_servers.append(self._spawn(self.action_server_command(port), f"actions-{index}.log"))
        for index, (port, server) in enumerate(zip(self.action_ports, self.action_servers, strict=True)):
            wait_until(
                lambda p=port: requests.get(f"http://127.0.0.1:{p}/health", timeout=2).ok,
                90, "action server", process=server, log=self.workdir / f"actions-{index}.log",
            )  # fmt: skip
        for index, port in enumerate(self.replica_ports):
            self.replicas.append(self._spawn(self.replica_command(port), f"rasa-{index}.log"))
        self.start_nginx()
        for index, (url, replica) in enumerate(zip(self.replica_urls, self.replicas, strict=True)):
            # A replica that dies while starting fails here at once, with its log, not after the timeout.
            wait_until(
                lambda u=url: requests.get(f"{u}/status?token={self.api_token}", timeout=2).ok,
                300, url, process=replica, log=self.workdir / f"rasa-{index}.log",
            )  # fmt: skip
        wait_until(lambda: requests.get(f"{self.url}/status?token={self.api_token}", timeout=2).ok, 30, "nginx")
        return self

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        self.replicas.clear()
        self.action_servers.clear()

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
