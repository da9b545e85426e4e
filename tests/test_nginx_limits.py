"""The cluster's nginx in front of the Rasa replicas (secondlook/devtools/cluster.py writes its
configuration; deploy/nginx/nginx.conf ships the same limits): floods from one client address are refused
while another address and the host itself are served, and one address's turns in progress are capped."""

import collections
import http.client
import http.server
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from secondlook.devtools.cluster import ADDRESS_LIMITS, REST_LIMITS, SOCKETIO_LIMITS, Cluster
from secondlook.devtools.servers import free_port, wait_until
from secondlook.paths import PROJECT_ROOT


class QuickUpstream(http.server.BaseHTTPRequestHandler):
    """Stands in for a Rasa replica behind nginx: answers at once, or after a second for "slow"."""

    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if b"slow" in body:
            time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"[]")

    do_GET = do_POST = _answer  # noqa: N815 (the names http.server calls)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    """The cluster's nginx (secondlook/devtools/cluster.py, the shipped configuration's limits) in front of a
    quick stand-in upstream on loopback."""
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), QuickUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    cluster = Cluster(tmp_path_factory.mktemp("nginx"), {}, replicas=1, action_servers=0)
    cluster.replica_ports = [upstream.server_address[1]]
    cluster.start_nginx()
    try:
        wait_until(lambda: requests.get(f"{cluster.url}/socket.io/", timeout=2).ok, 30, "nginx", cluster.processes[0])
        yield cluster
    finally:
        cluster.stop()
        upstream.shutdown()
        upstream.server_close()


def statuses_from(nginx: Cluster, source: str, requests_: int, path: str, body: bytes = b"{}") -> collections.Counter:
    """Posts `requests_` times from the loopback address `source` (127.0.0.0/8 is all this host's)."""
    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=30, source_address=(source, 0))
    statuses: collections.Counter = collections.Counter()
    try:
        for _ in range(requests_):
            connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            statuses[answer.status] += 1
    finally:
        connection.close()
    return statuses


def test_the_shipped_nginx_limits_per_address_are_the_clusters():
    shipped = (PROJECT_ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    for line in (ADDRESS_LIMITS + REST_LIMITS + SOCKETIO_LIMITS).splitlines():
        assert line.strip() in shipped


def test_nginx_refuses_a_flood_from_one_address_and_serves_another_and_the_host(nginx):
    started = time.monotonic()
    flood = statuses_from(nginx, "127.0.0.2", 150, "/webhooks/rest/webhook")
    assert flood[200] <= 50 + 5 * (time.monotonic() - started) + 1  # a burst of 50, then 5 a second
    assert flood[429] >= 50
    assert statuses_from(nginx, "127.0.0.3", 5, "/webhooks/rest/webhook") == {200: 5}
    assert statuses_from(nginx, "127.0.0.1", 150, "/webhooks/rest/webhook") == {200: 150}  # tests, benchmarks
    started = time.monotonic()
    sockets = statuses_from(nginx, "127.0.0.4", 250, "/socket.io/?EIO=4&transport=polling")
    assert sockets[200] <= 100 + 20 * (time.monotonic() - started) + 1 and sockets[429] >= 50


def test_nginx_caps_the_turns_in_progress_of_one_address(nginx):
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: statuses_from(nginx, "127.0.0.5", 1, "/webhooks/rest/", b"slow"), range(16)))
    statuses = sum(results, collections.Counter())
    assert statuses[200] <= 10 and statuses[429] >= 6
