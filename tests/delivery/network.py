"""A fake DNS and a connect guard for webhook tests: only the test servers on loopback are reachable."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

import pytest


@dataclass
class Network:
    """A fake DNS (`names`) and a record of every lookup and connect. Only the test servers'
    loopback ports may really be connected to; any other connect is recorded and fails, so no
    packet ever leaves loopback even when the code under test is wrong."""

    names: dict[str, list[str]] = field(default_factory=lambda: {"localhost": ["127.0.0.1"]})
    open_ports: set[int] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(name="network")
def network_fixture(monkeypatch: pytest.MonkeyPatch) -> Network:
    net = Network()
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            net.lookups.append(name)
            try:  # 0x7f000001, 127.1: numbers to the C resolver too, answered without DNS
                return real_getaddrinfo(host, port, *args, flags=socket.AI_NUMERICHOST)
            except socket.gaierror:
                pass
            answers = net.names.get(name.lower().rstrip("."))
            if answers is None:
                raise socket.gaierror(socket.EAI_NONAME, "unknown to the test DNS") from None
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in answers
            ]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        host, port = address[0], address[1]
        net.connects.append((host, port))
        if ipaddress.ip_address(host).is_loopback and port in net.open_ports:
            return real_connect(sock, address)
        raise ConnectionRefusedError("blocked by the test: only the test servers may be reached")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return net
