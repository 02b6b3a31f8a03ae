"""Every text the web app shows exists in English and Chinese, and every key a script asks for
is defined: checked on the scripts' source, so a missing translation fails here instead of
showing a raw key to a user."""

from __future__ import annotations

import re
from importlib import resources

import pytest

WEB = resources.files("camera_app.api.web")
SCRIPTS = sorted(p.name for p in WEB.iterdir() if p.name.endswith(".js") and p.name != "sw.js")
KEY = re.compile(r'^\s+"?([\w:.-]+)"?:', re.MULTILINE)
ASKED = re.compile(r'\bt\(\s*"([\w:.-]+)"')


def _blocks(source: str, lang: str) -> list[str]:
    """The bodies of every ``<lang>: { ... }`` object passed to addTexts in a script."""
    bodies = []
    for match in re.finditer(rf"^\s+{lang}: \{{$", source, re.MULTILINE):
        end = source.index("\n  },", match.end())
        bodies.append(source[match.end() : end])
    return bodies


def _keys(lang: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name in SCRIPTS:
        source = (WEB / name).read_text(encoding="utf-8")
        found[name] = {k for body in _blocks(source, lang) for k in KEY.findall(body)}
    return found


def test_the_app_has_texts_to_check() -> None:
    english = set().union(*_keys("en").values())
    assert len(english) > 200 and "login" in english and "streaming_heading" in english


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_english_text_has_a_chinese_one(script: str) -> None:
    missing = _keys("en")[script] - _keys("zh")[script]
    extra = _keys("zh")[script] - _keys("en")[script]
    assert not missing and not extra, (missing, extra)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_text_a_script_asks_for_is_defined(script: str) -> None:
    defined = set().union(*_keys("en").values())
    asked = set(ASKED.findall((WEB / script).read_text(encoding="utf-8")))
    assert asked - defined == set()
