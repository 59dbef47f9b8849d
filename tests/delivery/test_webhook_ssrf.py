"""SSRF through webhooks, attacked: internal addresses in every spelling, DNS names and redirects that
lead to them are refused before any socket connects; WEBHOOK_ALLOWED_HOSTS lets an operator in."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess

import pytest

from delivery import default_channels
from delivery.base import RetryPolicy
from delivery.webhook import WebhookChannel, WebhookDeliveryError
from engine.schedules import Recipient
from settings import Settings, SettingsError
from tests.delivery.helpers import make_bundle
from tests.delivery.network import network_fixture  # noqa: F401 - fixture
from tests.delivery.servers import WebhookServer, webhook_server_fixture  # noqa: F401 - fixture

SECRET = "whsec-ssrf"


def channel(*allowed: str, attempts: int = 4, timeout: float = 2) -> WebhookChannel:
    return WebhookChannel(
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.02),
        timeout=timeout,
        allowed_hosts=allowed,
        sleep=lambda _s: None,
    )


def send(ch: WebhookChannel, url: str, tmp_path):
    return ch.send(make_bundle(tmp_path), Recipient("webhook", url, {"secret": SECRET}))


def assert_refused(ch: WebhookChannel, url: str, tmp_path) -> WebhookDeliveryError:
    with pytest.raises(WebhookDeliveryError) as failure:
        send(ch, url, tmp_path)
    error = failure.value
    assert error.user_message.startswith("webhook refused: "), error.user_message
    assert (error.status, error.attempts, error.retryable) == (None, 1, False)  # not retried
    return error


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("2130706433", "loopback"),
        ("127.1", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("localhost", "loopback"),
        ("LocalHost.", "loopback"),
        ("169.254.169.254", "cloud metadata"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.10", "private"),
        ("172.16.5.4", "private"),
        ("[fd00::1]", "private"),
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_internal_addresses_are_refused_before_any_lookup_or_connect(
    host, reason, network, webhook_server, tmp_path
):
    # The receiver listens on 127.0.0.1: without the check, the loopback spellings reach it.
    network.open_ports.add(webhook_server.port)

    error = assert_refused(channel(), f"http://{host}:{webhook_server.port}/hook", tmp_path)

    assert reason in error.user_message and "WEBHOOK_ALLOWED_HOSTS" in error.user_message
    assert webhook_server.requests == []
    assert network.connects == [] and network.lookups == []


def test_the_metadata_service_path_is_refused_without_a_connect(network, tmp_path):
    assert_refused(channel(), "http://169.254.169.254/latest/meta-data/iam/", tmp_path)
    assert_refused(channel(), "http://10.0.0.1:6379/", tmp_path)
    assert network.connects == []


def test_a_name_that_resolves_to_loopback_is_refused_without_naming_the_address(
    network, webhook_server, tmp_path
):
    network.open_ports.add(webhook_server.port)
    network.names["internal.test"] = ["127.0.0.1"]
    network.names["mixed.test"] = ["93.184.216.34", "127.0.0.1"]  # one bad record is enough

    for name in ("internal.test", "mixed.test"):
        error = assert_refused(channel(), f"http://{name}:{webhook_server.port}/", tmp_path)
        assert "resolves to an address that is not allowed" in error.user_message
        assert "127.0.0.1" not in error.user_message  # no DNS oracle for internal names

    assert network.lookups == ["internal.test", "mixed.test"]
    assert network.connects == [] and webhook_server.requests == []


def test_the_checked_address_is_the_one_connected_to_even_if_dns_changes(
    network, webhook_server, tmp_path
):
    """DNS rebinding: the first answer is allowed, every later one points elsewhere."""
    network.open_ports.add(webhook_server.port)

    class Rebinding(dict):
        calls = 0

        def get(self, name, default=None):
            if name != "rebind.test":
                return default
            self.calls += 1
            return ["127.0.0.1"] if self.calls == 1 else ["10.0.0.1"]

    network.names = Rebinding()

    result = send(channel("127.0.0.1"), f"http://rebind.test:{webhook_server.port}/hook", tmp_path)

    assert result.detail["status"] == 200
    assert network.lookups == ["rebind.test"]  # resolved once, never again by the HTTP client
    assert network.connects == [("127.0.0.1", webhook_server.port)]
    [received] = webhook_server.requests
    assert received.headers["Host"] == f"rebind.test:{webhook_server.port}"  # the original Host


@pytest.fixture
def second_server():
    server = WebhookServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://0x7f000001:{port}/",
        "http://[::1]:{port}/",
        "http://internal.test:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://hooks.test/",
        "http://user:pw@hooks.test:{port}/",
    ],
)
def test_a_redirect_to_an_internal_address_is_refused_without_naming_it(
    location, network, webhook_server, second_server, tmp_path
):
    # hooks.test is the operator's allowed receiver; it answers with a redirect to elsewhere.
    network.open_ports.update({webhook_server.port, second_server.port})
    network.names.update({"hooks.test": ["127.0.0.1"], "internal.test": ["127.0.0.1"]})
    webhook_server.statuses = [307]
    webhook_server.location = location.format(port=second_server.port)

    error = assert_refused(
        channel("hooks.test"), f"http://hooks.test:{webhook_server.port}/hook", tmp_path
    )

    assert "redirected" in error.user_message
    assert str(second_server.port) not in error.user_message  # what it answered is not echoed
    assert len(webhook_server.requests) == 1 and second_server.requests == []
    assert network.connects == [("127.0.0.1", webhook_server.port)]


def test_a_redirect_to_an_allowed_host_is_followed_with_the_same_signed_post(
    network, webhook_server, second_server, tmp_path
):
    network.open_ports.update({webhook_server.port, second_server.port})
    network.names["hooks.test"] = ["127.0.0.1"]
    webhook_server.statuses = [308]
    webhook_server.location = f"http://127.0.0.1:{second_server.port}/moved?v=2"

    result = send(
        channel("hooks.test", "127.0.0.1/32"), f"http://hooks.test:{webhook_server.port}/", tmp_path
    )

    assert result.detail["status"] == 200 and result.attempts == 1
    [first], [moved] = webhook_server.requests, second_server.requests
    assert moved.path == "/moved?v=2" and moved.body == first.body
    assert moved.headers["X-Nexpo-Signature"] == first.headers["X-Nexpo-Signature"]


def test_redirect_loops_stop_after_three_hops(network, webhook_server, tmp_path):
    network.open_ports.add(webhook_server.port)
    webhook_server.statuses = [307] * 10
    webhook_server.location = "/again"

    error = assert_refused(channel("127.0.0.1"), webhook_server.url, tmp_path)

    assert "more than 3 times" in error.user_message
    assert len(webhook_server.requests) == 4


def test_allowed_hosts_from_the_settings_let_the_operator_reach_an_internal_receiver(
    network, webhook_server, tmp_path
):
    network.open_ports.add(webhook_server.port)
    url = f"{webhook_server.url}/hook"

    def webhook_channel(**env: str) -> WebhookChannel:
        settings = Settings.from_env(
            {"INSTANCE_PATH": str(tmp_path / "instance"), "REPORT_PORTAL_ENABLED": "false", **env}
        )
        return default_channels(settings, store=None)["webhook"]  # type: ignore[arg-type]

    assert_refused(webhook_channel(WEBHOOK_SECRET=SECRET), url, tmp_path / "a")
    assert webhook_server.requests == [] and network.connects == []

    allowed = webhook_channel(WEBHOOK_ALLOWED_HOSTS="127.0.0.1", WEBHOOK_SECRET=SECRET)
    assert send(allowed, url, tmp_path / "b").detail["status"] == 200
    assert len(webhook_server.requests) == 1
    # A network covers every address in it, in every spelling.
    wide = webhook_channel(WEBHOOK_ALLOWED_HOSTS="10.0.0.0/8, 127.0.0.0/8")
    send(wide, f"http://0x7f000001:{webhook_server.port}/", tmp_path / "c")
    assert len(webhook_server.requests) == 2


@pytest.mark.parametrize("value", ["hooks internal", "10.0.0.0/33", "-bad-.example", "http://x"])
def test_a_bad_allowed_hosts_entry_stops_start_up_naming_the_variable(value):
    with pytest.raises(SettingsError, match="WEBHOOK_ALLOWED_HOSTS"):
        Settings.from_env({"WEBHOOK_ALLOWED_HOSTS": value})


def test_a_closed_port_and_a_silent_one_fail_alike(network, tmp_path):
    """No port oracle: refused, timed out and unreachable read the same in the run history."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection (backlog) but never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    ports = {"silent": silent.getsockname()[1], "closed": closed.getsockname()[1]}
    network.open_ports.update(ports.values())
    try:
        messages = {}
        for kind, port in ports.items():
            with pytest.raises(WebhookDeliveryError) as failure:
                send(
                    channel("127.0.0.1", attempts=1, timeout=0.3),
                    f"http://127.0.0.1:{port}/",
                    tmp_path,
                )
            assert failure.value.status is None
            messages[kind] = failure.value.user_message.replace(str(port), "PORT")
    finally:
        silent.close()
        closed.close()
    assert messages["silent"] == messages["closed"]
    assert "could not connect to 127.0.0.1:PORT" in messages["silent"]


@pytest.fixture
def tls_server(tmp_path):
    """The webhook receiver over TLS with a self-signed certificate for hooks.test only; it
    records the server name (SNI) each client asked for."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
        + ["-out", str(cert), "-days", "2", "-subj", "/CN=hooks.test"]
        + ["-addext", "subjectAltName=DNS:hooks.test"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = WebhookServer()
    server.sni = []  # type: ignore[attr-defined]
    context.sni_callback = lambda _sock, name, _ctx: server.sni.append(name)  # type: ignore[attr-defined]
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.cert = str(cert)  # type: ignore[attr-defined]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_https_connects_to_the_checked_address_with_the_original_name_for_sni_and_certificate(
    network, tls_server, tmp_path
):
    network.open_ports.add(tls_server.port)
    network.names["hooks.test"] = ["127.0.0.1"]
    ch = WebhookChannel(allowed_hosts=("hooks.test", "127.0.0.1"), ca_certs=tls_server.cert)

    result = send(ch, f"https://hooks.test:{tls_server.port}/hook", tmp_path)

    assert result.detail["status"] == 200
    assert tls_server.sni == ["hooks.test"]
    assert network.connects == [("127.0.0.1", tls_server.port)]
    [received] = tls_server.requests
    assert received.headers["Host"] == f"hooks.test:{tls_server.port}"
    # The certificate names hooks.test, not the address: verification is on, by the URL's name.
    bare = WebhookChannel(
        allowed_hosts=("127.0.0.1",),
        ca_certs=tls_server.cert,
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(WebhookDeliveryError, match="could not connect"):
        send(bare, f"https://127.0.0.1:{tls_server.port}/hook", tmp_path)
    assert len(tls_server.requests) == 1
