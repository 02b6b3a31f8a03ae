"""Whether a customer's phone can open a URL: the public address printed on the notice sign.

The QR code on a merchant's sign is scanned by passers-by on mobile data or on some other
network, never on the shop's own LAN. A sign whose URL names ``localhost``, a private or
link-local address, or a name that only resolves inside a home or office network (``cam.local``,
``router.lan``, a single-label host) leads nowhere for them, so it would inform no one while
looking as if it did. This module refuses such URLs before any sign is made. It looks at the URL
only; it never resolves or fetches anything.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["LOCAL_SUFFIXES", "PublicUrlError", "check_public_url"]

MAX_URL_CHARS = 200

#: Name suffixes that resolve only inside a local network (mDNS, RFC 8375 and common router or
#: corporate defaults), never on a customer's phone out on the street.
LOCAL_SUFFIXES: tuple[str, ...] = (
    "local",
    "localhost",
    "localdomain",
    "lan",
    "home",
    "home.arpa",
    "internal",
    "intranet",
    "corp",
    "private",
)

# (English, Simplified Chinese) for each check; the API answers in the caller's language.
_MESSAGES: dict[str, tuple[str, str]] = {
    "missing": (
        "the sign needs the public address customers' phones open (e.g. "
        "https://shop-cam.example.com): send public_url, or set streaming.public_url",
        "提示牌需要顾客手机能打开的公网地址（例如 https://shop-cam.example.com）："
        "请填写 public_url，或在配置中设置 streaming.public_url",
    ),
    "format": (
        "public_url must be an http:// or https:// address with a host name, no spaces, "
        "user name, query or fragment, at most 200 characters",
        "public_url 必须是带主机名的 http:// 或 https:// 地址，不含空格、用户名、查询参数或片段，"
        "最长 200 个字符",
    ),
    "loopback": (
        "public_url points at this device itself (localhost / loopback): a customer's phone "
        "cannot open it",
        "public_url 指向设备本机（localhost / 环回地址），顾客的手机无法打开",
    ),
    "link_local": (
        "public_url is a link-local address, reachable only on the same network segment: a "
        "customer's phone cannot open it",
        "public_url 是链路本地地址，只能在同一网段访问，顾客的手机无法打开",
    ),
    "private": (
        "public_url is a private or reserved network address (e.g. 192.168.x.x, 10.x.x.x, "
        "fd00::/8): it works only inside your own network, not on a customer's phone",
        "public_url 是私有或保留网络地址（如 192.168.x.x、10.x.x.x、fd00::/8），"
        "只能在您自己的网络内访问，顾客的手机无法打开",
    ),
    "local_name": (
        "public_url uses a local network name (.local, .lan, .home.arpa, ...) that only "
        "devices in your network can resolve: use the public domain name",
        "public_url 使用的是局域网名称（.local、.lan、.home.arpa 等），只有您网络内的设备能解析："
        "请使用公网域名",
    ),
    "single_label": (
        "public_url has a host name without a domain (e.g. 'camera'): only your own network "
        "knows it; use the full public domain name",
        "public_url 的主机名没有域名部分（如 'camera'），只有您自己的网络认识它："
        "请使用完整的公网域名",
    ),
}


class PublicUrlError(ValueError):
    """The URL cannot be printed on a sign. ``check`` names the rule (``missing``, ``format``,
    ``loopback``, ``link_local``, ``private``, ``local_name``, ``single_label``)."""

    def __init__(self, check: str) -> None:
        super().__init__(_MESSAGES[check][0])
        self.check = check

    def message(self, lang: str) -> str:
        """Why, in ``lang`` (``zh`` or ``en``)."""
        en, zh = _MESSAGES[self.check]
        return zh if lang == "zh" else en


def check_public_url(url: str | None) -> str:
    """``url`` without its trailing slash if a phone out on the internet could open it; raises
    :class:`PublicUrlError` otherwise.

    Accepted: ``http://`` or ``https://``, a host that is a global IP address or a dotted domain
    name outside the local suffixes, an optional port and path. Refused: nothing at all,
    loopback, link-local, private (RFC 1918, RFC 6598 shared, ULA) and other non-global
    addresses, ``.local``/``.lan``/``.home.arpa`` and similar names, single-label host names,
    other schemes, user names, queries and fragments (the notice path is appended to it).
    """
    if url is None or not url.strip():
        raise PublicUrlError("missing")
    if len(url) > MAX_URL_CHARS or not url.isprintable() or any(ch.isspace() for ch in url):
        raise PublicUrlError("format")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise PublicUrlError("format") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.query
        or parts.fragment
        or "?" in url
        or "#" in url
    ):
        raise PublicUrlError("format")
    _check_host(parts.hostname)
    return url.rstrip("/")


def _check_host(host: str) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        _check_name(host)
        return
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        raise PublicUrlError("loopback")
    if address.is_link_local:
        raise PublicUrlError("link_local")
    if not address.is_global or address.is_multicast:
        raise PublicUrlError("private")


def _check_name(host: str) -> None:
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if any(not label for label in labels):
        raise PublicUrlError("format")
    if name in ("localhost",) or name.endswith(".localhost"):
        raise PublicUrlError("loopback")
    if any(name == suffix or name.endswith("." + suffix) for suffix in LOCAL_SUFFIXES):
        raise PublicUrlError("local_name")
    if len(labels) == 1:
        raise PublicUrlError("single_label")
    if labels[-1].isdigit():  # "127.1", "10.1.1": an address in a short form, not a domain
        raise PublicUrlError("format")
