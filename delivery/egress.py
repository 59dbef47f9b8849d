"""Outbound HTTP without SSRF: each hop's host is resolved once, every address checked, and the checked address connected to."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

import certifi
import urllib3

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[IPAddress]]

SCHEMES = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3
ALLOW_VARIABLE = "WEBHOOK_ALLOWED_HOSTS"
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_DEC, _HEX, _OCT = re.compile(r"^[0-9]+$"), re.compile(r"^[0-9a-f]*$"), re.compile(r"^[0-7]+$")


class EgressRefused(Exception):
    """The URL or an address it resolves to is not allowed: nothing was sent, retrying will not help."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class EgressFailed(Exception):
    """The target could not be reached or did not answer (one message for every cause: refused,
    reset, timeout, TLS and DNS failures look alike, so the run history is no port scanner)."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


@dataclass(frozen=True)
class AllowList:
    """WEBHOOK_ALLOWED_HOSTS: host names (exact, case-insensitive) and IP addresses or networks."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            value = entry.strip().lower().strip("[]")
            if not value:
                continue
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                names.add(value.rstrip("."))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host in self.names

    def allows_ip(self, ip: IPAddress) -> bool:
        candidates = [ip] + ([mapped] if (mapped := _embedded_v4(ip)) is not None else [])
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


@dataclass(frozen=True)
class Target:
    """One hop's URL taken apart: what to check, where to connect, what to send as Host and SNI."""

    scheme: str
    host: (
        str  # as spelled, lower case, no brackets or trailing dot; a name is the SNI and cert name
    )
    port: int
    host_header: str
    path: str
    literal: IPAddress | None  # the host is an IP address, in whatever spelling


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any spelling a resolver or browser accepts (127.1, 0x7f000001,
    2130706433, 0177.0.0.1); None for a host name. A host that ends in a number but is no valid
    address is refused (as URL parsers do) rather than handed to DNS."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    numbers = [_ipv4_part(p) for p in parts]
    if numbers[-1] is None:
        return None
    if len(parts) > 4 or None in numbers:
        raise EgressRefused(f"{host!r} is not a valid host")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise EgressRefused(f"{host!r} is not a valid IPv4 address")
    value = values[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(values[:-1]))
    return ipaddress.IPv4Address(value)


def _ipv4_part(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits = part[2:]
        return int(digits or "0", 16) if _HEX.match(digits.lower()) else None
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if _OCT.match(part) else None
    return int(part) if _DEC.match(part) else None


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    packed = int(ip)
    if packed >> 32 == 0 and packed > 1:  # ::a.b.c.d (deprecated IPv4-compatible form)
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if any(ip in net for net in _NAT64):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why a webhook may not connect to `ip` ("a loopback address", ...), or None for a public one."""
    embedded = _embedded_v4(ip)
    if embedded is not None:
        inner = refusal(embedded)
        return f"{inner} (inside an IPv6 address)" if inner else None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return "an unspecified address"
    if ip.is_link_local:
        metadata = (
            " (such as the cloud metadata service 169.254.169.254)" if ip.version == 4 else ""
        )
        return f"a link-local address{metadata}"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or getattr(ip, "is_site_local", False):
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def parse_target(url: str) -> Target:
    """`url` taken apart, or EgressRefused naming what is wrong (scheme, credentials, host, port)."""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
        raise EgressRefused("the URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise EgressRefused(f"{url!r} is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise EgressRefused(f"{url!r} is not an http(s) URL")
    if "@" in parts.netloc:
        raise EgressRefused("the URL must not contain a user name or password")
    raw = unquote(parts.hostname or "")
    host = raw.rstrip(".")
    if not host:
        raise EgressRefused(f"{url!r} has no host")
    if port == 0:
        raise EgressRefused(f"{url!r}: port 0 is not a port")
    literal = _literal(host, bracketed=parts.netloc.split("]")[0].startswith("["))
    if literal is None:
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise EgressRefused(f"{raw!r} is not a valid host name") from None
        if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
            raise EgressRefused(f"{raw!r} is not a valid host name")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Host header from the parsed host (IDNA, no percent escapes), so it names what was checked.
    shown = host if literal is None else f"[{literal}]" if literal.version == 6 else str(literal)
    host_header = shown if port is None else f"{shown}:{port}"
    return Target(scheme, host, port or SCHEMES[scheme], host_header, path, literal)


def _literal(host: str, *, bracketed: bool) -> IPAddress | None:
    if bracketed or ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise EgressRefused(f"{host!r} is not a valid IPv6 address") from None
    return parse_ipv4(host)


def check_literal(target: Target, allow: AllowList) -> None:
    """Refuse a host that needs no DNS to be known bad: an IP literal or `localhost`. Saving a
    schedule runs this; a delivery runs it before resolving."""
    if allow.allows_name(target.host):
        return
    if target.literal is not None:
        if allow.allows_ip(target.literal):
            return
        reason = refusal(target.literal)
        if reason:
            spelled = str(target.literal)
            shown = target.host if target.host == spelled else f"{target.host} ({spelled})"
            raise EgressRefused(f"{shown} is {reason}; {_allow_hint()}")
    elif target.host == "localhost" or target.host.endswith(".localhost"):
        raise EgressRefused(f"{target.host} is a loopback address; {_allow_hint()}")


def _allow_hint() -> str:
    return f"an operator can allow it in {ALLOW_VARIABLE}"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (once: the caller connects to one of these, never to the name)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    seen: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def addresses(
    target: Target, allow: AllowList, resolver: Resolver | None = None
) -> list[IPAddress]:
    """The checked addresses to connect to: all of them must be allowed, or the host is refused."""
    check_literal(target, allow)
    if target.literal is not None:
        return [target.literal]
    found = (resolver or resolve)(target.host, target.port)
    if not found:
        raise EgressFailed(f"could not connect to {target.host_header}")
    if not allow.allows_name(target.host):
        for ip in found:
            if not allow.allows_ip(ip) and refusal(ip):
                raise EgressRefused(
                    f"{target.host} resolves to an address that is not allowed (loopback, "
                    f"private, link-local or similar); {_allow_hint()}"
                )
    return found


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    allow: AllowList,
    timeout: float,
    resolver: Resolver | None = None,
    ca_certs: str | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> int:
    """POST `body` to `url`, following up to `max_redirects` redirects (re-POSTing: a webhook has
    nothing to GET), each hop checked before it is connected to. Returns the final status.

    Raises EgressRefused (nothing sent to a refused address; a redirect's target is not named) or
    EgressFailed (no answer)."""
    first = parse_target(url)
    for hop in range(max_redirects + 1):
        try:
            target = first if hop == 0 else parse_target(url)
            ips = addresses(target, allow, resolver)
        except EgressRefused:
            if hop == 0:
                raise
            raise EgressRefused(
                f"{first.host_header} redirected to an address that is not allowed"
            ) from None
        except EgressFailed:
            raise EgressFailed(f"could not connect to {first.host_header}") from None
        status, location = _send(target, ips, body, headers, timeout, ca_certs)
        if status not in REDIRECTS or not location:
            return status
        url = urljoin(url, location)
    raise EgressRefused(f"{first.host_header} redirected more than {max_redirects} times")


def _send(
    target: Target,
    ips: list[IPAddress],
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    ca_certs: str | None,
) -> tuple[int, str | None]:
    """One POST to the first of `ips` that connects, with the URL's Host header and TLS name."""
    for ip in ips:
        pool = _pool(target, ip, timeout, ca_certs)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                return response.status, response.headers.get("Location")
            finally:
                response.close()
        except urllib3.exceptions.ConnectTimeoutError:  # includes NewConnectionError
            continue  # nothing was sent: the next checked address may answer
        except (urllib3.exceptions.HTTPError, OSError):
            break  # sent, or half-sent: another address would deliver twice
        finally:
            pool.close()
    raise EgressFailed(f"could not connect to {target.host_header}")


def _pool(
    target: Target, ip: IPAddress, timeout: float, ca_certs: str | None
) -> urllib3.HTTPConnectionPool:
    options = {
        "port": target.port,
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if target.scheme == "https":
        name = target.host if target.literal is None else str(target.literal)
        return urllib3.HTTPSConnectionPool(
            str(ip),
            server_hostname=name,
            assert_hostname=name,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or certifi.where(),
            **options,
        )
    return urllib3.HTTPConnectionPool(str(ip), **options)
