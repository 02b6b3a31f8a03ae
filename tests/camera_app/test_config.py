"""Config loading: defaults, validation errors naming the key path, YAML errors, check-config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from camera_app.cli import main
from camera_app.config import AppConfig, ConfigError, load_config, parse_config
from testkit.paths import REPO
from testkit.service import camera_app_cmd


def test_defaults_are_safe() -> None:
    config = AppConfig()
    assert config.capture.source == "auto"
    assert config.privacy_masks.areas == []
    assert "enabled" not in config.streaming.model_dump()
    assert config.storage.quota_mb > 0 and config.storage.retention_days > 0


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("")
    assert load_config(path) == AppConfig()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"motion": {"thresh": 3}}, "motion.thresh: unknown key"),
        ({"camara": {}}, "camara: unknown key"),
        ({"capture": {"fps": "fast"}}, "capture.fps: Input should be a valid number"),
        ({"capture": {"fps": -1}}, "capture.fps: Input should be greater than 0"),
        ({"capture": {"source": "usb0"}}, "capture.source: unknown source"),
        ({"capture": {"pacing": "slow"}}, "capture.pacing: Input should be 'realtime' or 'fast'"),
        ({"camera": {"id": "Front Door"}}, "camera.id: String should match pattern"),
        (
            {"privacy_masks": {"areas": [{"name": "w", "points": [[0, 0], [1, 1]]}]}},
            "privacy_masks.areas[0].points: a polygon needs at least 3 points",
        ),
        (
            {"motion": {"masks": [{"name": "t", "points": [[0, 0], [1.5, 0], [1, 1]]}]}},
            "motion.masks[0].points[1][0]: Input should be less than or equal to 1",
        ),
        ({"privacy_masks": {"color": [0, 0, 256]}}, "privacy_masks.color[2]"),
        ({"events": {"post_roll_s": 30, "max_length_s": 10}}, "events: post_roll_s must be"),
        ({"streaming": {"enabled": True}}, "streaming: live streaming cannot be enabled"),
        ({"storage": {"quota_mb": 0}}, "storage.quota_mb: Input should be greater than 0"),
        ({"motion": []}, "motion: Input should be a valid dictionary"),
    ],
)
def test_bad_values_name_the_key_path(data: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"capture": {"fps": 0, "width": 10}, "logging": {"level": "LOUD"}})
    assert len(err.value.problems) == 3


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="expected a mapping"):
        parse_config(["capture"])


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("capture:\n  fps: 15\n   width: 3\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line 3"):
        load_config(path)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_relative_data_dir_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "c.yaml"
    path.parent.mkdir()
    path.write_text("storage:\n  data_dir: ../data\n")
    assert load_config(path).storage.data_dir == (tmp_path / "data").resolve()


def test_config_is_immutable() -> None:
    config = AppConfig()
    with pytest.raises(ValueError, match="frozen"):
        config.capture.fps = 30  # type: ignore[misc]


def test_check_config_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("capture:\n  source: 'test:'\n")
    assert main(["check-config", str(good)]) == 0
    assert "OK" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text("capture:\n  fps: 0\n  colour: red\n")
    assert main(["check-config", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "capture.fps: Input should be greater than 0" in err
    assert "capture.colour: unknown key" in err


def test_check_config_console_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("motion: {threshold: 999}\n")
    result = subprocess.run(
        [*camera_app_cmd(), "check-config", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3
    assert "motion.threshold: Input should be less than or equal to 255" in result.stderr
    assert "Traceback" not in result.stderr


def test_example_configs_are_valid() -> None:
    for path in sorted((REPO / "deploy").glob("*.yaml")):
        load_config(path)


def test_configuration_reference_is_up_to_date() -> None:
    from camera_app.config.reference import render

    assert (REPO / "docs" / "configuration.md").read_text() == render(), (
        "regenerate with: python -m camera_app.config.reference > docs/configuration.md"
    )
