"""Which addresses may be printed on a notice sign: only those a phone out on the internet opens."""

from __future__ import annotations

import pytest

from privacy.public_url import PublicUrlError, check_public_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop-cam.example.com", "https://shop-cam.example.com"),
        ("https://shop-cam.example.com/", "https://shop-cam.example.com"),
        ("http://shop-cam.example.com:8080/cam/", "http://shop-cam.example.com:8080/cam"),
        ("https://8.8.8.8:8443", "https://8.8.8.8:8443"),
        ("https://[2606:4700::1111]/", "https://[2606:4700::1111]"),
        ("https://SHOP.Example.COM.", "https://SHOP.Example.COM."),
        ("https://例子.中国", "https://例子.中国"),
    ],
)
def test_public_addresses_are_accepted(url: str, expected: str) -> None:
    assert check_public_url(url) == expected


@pytest.mark.parametrize(
    ("url", "check"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("http://127.0.0.1", "loopback"),
        ("http://127.8.9.10:80", "loopback"),
        ("http://[::1]", "loopback"),
        ("http://localhost:8443", "loopback"),
        ("http://cam.localhost", "loopback"),
        ("http://169.254.0.1", "link_local"),
        ("http://[fe80::abcd]", "link_local"),
        ("http://10.1.2.3", "private"),
        ("http://172.31.255.1", "private"),
        ("http://192.168.0.1", "private"),
        ("http://100.64.0.1", "private"),  # carrier-grade NAT: not reachable from outside
        ("http://[fc00::1]", "private"),
        ("http://[fd00:1::2]", "private"),
        ("http://[::ffff:192.168.1.1]", "private"),
        ("http://0.0.0.0", "private"),
        ("http://224.0.0.1", "private"),
        ("http://cam.local", "local_name"),
        ("http://CAM.LOCAL.", "local_name"),
        ("http://cam.lan", "local_name"),
        ("http://cam.home.arpa", "local_name"),
        ("http://nas.internal", "local_name"),
        ("http://camera", "single_label"),
        ("http://camera:8443/x", "single_label"),
        ("http://127.1", "format"),
        ("ftp://shop.example.com", "format"),
        ("javascript:alert(1)", "format"),
        ("shop.example.com", "format"),
        ("https://", "format"),
        ("https://shop.example.com/a b", "format"),
        ("https://shop.example.com/\u200b", "format"),
        ("https://shop.example.com?x=1", "format"),
        ("https://shop.example.com/#top", "format"),
        ("https://u:p@shop.example.com", "format"),
        ("https://shop.example.com:99999", "format"),
        ("https://shop..example.com", "format"),
        ("https://shop.example.com/" + "a" * 200, "format"),
    ],
)
def test_addresses_a_phone_cannot_open_are_refused(url: str | None, check: str) -> None:
    with pytest.raises(PublicUrlError) as refused:
        check_public_url(url)
    assert refused.value.check == check
    assert refused.value.message("en") == str(refused.value)
    assert refused.value.message("zh") != refused.value.message("en")
