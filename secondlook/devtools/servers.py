"""Real Rasa and action server processes on free loopback ports, for end-to-end tests and the scripts that
drive a bot, with their own databases in a temporary folder."""

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from secondlook.paths import PROJECT_ROOT

VENV_BIN = PROJECT_ROOT / ".venv" / "bin"
# The HTTP API token of the bots started here: made per process, never a value someone could know.
API_TOKEN = secrets.token_urlsafe(24)
# The action server answers only calls with this header (rasa_sdk_plugins/); Rasa expands the variable.
ACTION_ENDPOINT_HEADERS = "  headers:\n    Authorization: Bearer ${SECONDLOOK_ACTION_TOKEN}\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def trained_model() -> Path:
    """The model `make` trained for the current inputs (it passes it in SECONDLOOK_MODEL)."""
    named = os.environ.get("SECONDLOOK_MODEL")
    if named:
        return PROJECT_ROOT / named
    models = sorted((PROJECT_ROOT / "models").glob("secondlook-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise RuntimeError("no trained model: run `make train` (make test does it for you)")
    return models[-1]


def wait_until(
    check, timeout: float, what: str, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Polls `check` until it is true; fails at once when `process` has exited (with its log's tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting:\n{tail}")
        try:
            if check():
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")


class BotProcesses:
    """An action server and a Rasa server sharing a temporary tracker store and progress database."""

    def __init__(
        self, workdir: Path, env: dict | None = None, endpoints: Path | None = None, credentials: Path | None = None
    ):
        self.workdir = workdir
        self.action_port = free_port()
        self.rasa_port = free_port()
        self.url = f"http://127.0.0.1:{self.rasa_port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{workdir / 'progress.db'}",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **(env or {}),
        }
        self.env.setdefault("ACTION_SERVER_URL", f"http://127.0.0.1:{self.action_port}/webhook")
        if not self.env.get("SECONDLOOK_ACTION_TOKEN"):  # as scripts/run.sh
            self.env["SECONDLOOK_ACTION_TOKEN"] = secrets.token_urlsafe(24)
        self.credentials = credentials or PROJECT_ROOT / "credentials.yml"
        self.tracker_db = workdir / "tracker.db"
        self.endpoints = endpoints or workdir / "endpoints.yml"
        if endpoints is None:
            self.endpoints.write_text(
                f'action_endpoint:\n  url: "http://127.0.0.1:{self.action_port}/webhook"\n{ACTION_ENDPOINT_HEADERS}'
                f"tracker_store:\n  type: stores.tracker_store.ErasableSQLTrackerStore\n"
                f"  dialect: sqlite\n  db: {self.tracker_db}\n"
            )
        # The action server reads the tracker store of the same endpoints file ("what do you keep?").
        self.env["ENDPOINTS"] = str(self.endpoints)
        self.action_server: subprocess.Popen | None = None
        self.rasa_server: subprocess.Popen | None = None

    def _spawn(self, args: list[str], log_name: str, **env: str) -> subprocess.Popen:
        with open(self.workdir / log_name, "ab") as log:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                args,
                cwd=PROJECT_ROOT,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start_action_server(self) -> None:
        self._spawn_action_server()
        self._wait_for_action_server()

    def start_rasa_server(self) -> None:
        self._spawn_rasa_server()
        self._wait_for_rasa_server()

    def start(self) -> "BotProcesses":
        """Both servers at once: neither needs the other to start (the Rasa server calls the action
        server only in a turn), and the action server's start overlaps the model load."""
        self._spawn_action_server()
        self._spawn_rasa_server()
        self._wait_for_action_server()
        self._wait_for_rasa_server()
        return self

    def _spawn_action_server(self) -> None:
        self.action_server = self._spawn(
            [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(self.action_port)],
            "actions.log",
            SANIC_HOST="127.0.0.1",  # as scripts/run.sh: loopback only
        )

    def _wait_for_action_server(self) -> None:
        health = f"http://127.0.0.1:{self.action_port}/health"
        wait_until(
            lambda: requests.get(health, timeout=2).ok,
            90,
            "the action server",
            self.action_server,
            self.workdir / "actions.log",
        )

    def _spawn_rasa_server(self) -> None:
        self.rasa_server = self._spawn(
            [
                str(VENV_BIN / "python"), "scripts/rasa_server.py", "--model", str(trained_model()),
                "--interface", "127.0.0.1", "--port", str(self.rasa_port),
                "--credentials", str(self.credentials), "--endpoints", str(self.endpoints),
            ],
            "rasa.log",
            SECONDLOOK_API_TOKEN=API_TOKEN,  # as scripts/run.sh: the token never on the command line
        )  # fmt: skip

    def _wait_for_rasa_server(self) -> None:
        status = f"{self.url}/status?token={API_TOKEN}"
        # A busy shared machine can take minutes to load the model: SECONDLOOK_START_TIMEOUT raises the limit.
        limit = float(os.environ.get("SECONDLOOK_START_TIMEOUT", "180"))
        wait_until(
            lambda: requests.get(status, timeout=2).ok,
            limit,
            "the Rasa server",
            self.rasa_server,
            self.workdir / "rasa.log",
        )

    @staticmethod
    def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
        if process and process.poll() is None:
            os.killpg(process.pid, sig)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_rasa_server(self) -> None:
        self._stop(self.rasa_server)

    def stop(self) -> None:
        self._stop(self.rasa_server)
        self._stop(self.action_server)

    def say(self, sender: str, text: str) -> list[dict]:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def parse(self, text: str) -> dict:
        """What the NLU makes of a message (intent, entities), without touching any conversation."""
        response = requests.post(
            f"{self.url}/model/parse", params={"token": API_TOKEN}, json={"text": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def tracker(self, sender: str) -> dict:
        """The conversation's tracker from the HTTP API (slots, events)."""
        response = requests.get(f"{self.url}/conversations/{sender}/tracker", params={"token": API_TOKEN}, timeout=30)
        response.raise_for_status()
        return response.json()


def reply_text(replies: list[dict]) -> str:
    return "\n".join(reply.get("text") or "" for reply in replies)
