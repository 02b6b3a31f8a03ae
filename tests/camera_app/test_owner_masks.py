"""The owner's saved masks (``<data_dir>/owner-masks.yaml``) laid over the config file where the
service loads its config: a missing file changes nothing, a saved one wins, a broken one is a
config error (exit 3) naming the file and the key path, so the service never runs without the
masks the owner drew. ``check-config`` says what they change."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from camera_app.cli import main
from camera_app.config import ConfigError, load_config, load_service_config
from camera_app.config.owner_masks import (
    OwnerMasks,
    OwnerMasksError,
    SavedMotionMasks,
    SavedPrivacyMasks,
    read_owner_masks,
    write_owner_masks,
)
from firmware.configbase import NamedPolygon
from firmware.errors import ExitCode
from firmware.paths import StoragePaths

WINDOW = {"name": "window", "points": [[0.1, 0.1], [0.4, 0.1], [0.4, 0.5]]}
TREE = {"name": "tree", "points": [[0.6, 0.0], [1.0, 0.0], [1.0, 0.3]]}
PAVEMENT = NamedPolygon(name="pavement", points=[(0, 0.8), (1, 0.8), (1, 1), (0, 1)])
OWNERS = OwnerMasks(
    privacy_masks=SavedPrivacyMasks(color=(255, 0, 255), areas=[PAVEMENT]),
    motion=SavedMotionMasks(masks=[]),
)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """A config file with masks of its own and a data directory relative to it."""
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "privacy_masks": {"color": [0, 0, 255], "areas": [WINDOW]},
                "motion": {"masks": [TREE], "threshold": 30},
                "storage": {"data_dir": "../data"},
            }
        )
    )
    return path


def _masks_file(config_path: Path) -> Path:
    return StoragePaths((config_path.parent / "../data").resolve()).owner_masks


def test_without_saved_masks_the_config_file_is_all(config_path: Path) -> None:
    loaded = load_service_config(config_path)
    assert loaded.config == loaded.file == load_config(config_path)
    assert loaded.owner_masks is None and loaded.replaced() == []
    assert loaded.owner_masks_path == _masks_file(config_path)


def test_a_data_directory_that_is_not_one_holds_no_masks(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the data directory should be")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"data_dir": str(blocker / "data")}}))
    loaded = load_service_config(path)  # the start then fails on the data directory (exit 4)
    assert loaded.owner_masks is None and loaded.config == load_config(path)


def test_the_saved_masks_win_over_the_config_files(config_path: Path) -> None:
    path = _masks_file(config_path)
    path.parent.mkdir()
    write_owner_masks(path, OWNERS)
    assert read_owner_masks(path) == OWNERS
    loaded = load_service_config(config_path)
    config = loaded.config
    assert config.privacy_masks.areas == [PAVEMENT]  # the file's window is gone: replaced
    assert config.privacy_masks.color == (255, 0, 255)
    assert config.motion.masks == []
    assert config.motion.threshold == 30  # the rest of the section as the file says
    assert config.storage == loaded.file.storage
    assert loaded.file.motion.masks[0].name == "tree"
    assert loaded.replaced() == ["privacy_masks.color", "privacy_masks.areas", "motion.masks"]
    # masks that happen to equal the file's replace nothing
    write_owner_masks(path, OwnerMasks.of(loaded.file))
    same = load_service_config(config_path)
    assert same.owner_masks is not None and same.replaced() == []
    assert same.config == same.file


BROKEN: list[tuple[str, bytes, str]] = [
    ("invalid YAML", b"privacy_masks: [oops\n", "invalid YAML at line"),
    ("empty", b"", "(top level): the file is empty"),
    ("only a comment", b"# nothing\n", "(top level): the file is empty"),
    ("a list", b"- 1\n", "(top level): expected a mapping"),
    ("not UTF-8", b"\xff\xfe\x00", "not UTF-8"),
    (
        "cut short",
        yaml.safe_dump({"privacy_masks": {"color": [0, 0, 0], "areas": [WINDOW]}}).encode(),
        "motion: Field required",
    ),
    (
        "no colour",
        yaml.safe_dump({"privacy_masks": {"areas": []}, "motion": {"masks": []}}).encode(),
        "privacy_masks.color: Field required",
    ),
    (
        "a point outside the frame",
        yaml.safe_dump(
            {
                "privacy_masks": {
                    "color": [0, 0, 0],
                    "areas": [{"name": "a", "points": [[0, 0], [1.5, 0], [1, 1]]}],
                },
                "motion": {"masks": []},
            }
        ).encode(),
        "privacy_masks.areas[0].points[1][0]: Input should be less than or equal to 1",
    ),
    (
        "an unknown key",
        yaml.safe_dump(
            {"privacy_masks": {"colour": [0, 0, 0], "areas": []}, "motion": {"masks": []}}
        ).encode(),
        "privacy_masks.colour: unknown key",
    ),
    (
        "another section",
        yaml.safe_dump({**OWNERS.model_dump(mode="json"), "streaming": {}}).encode(),
        "streaming: unknown key",
    ),
]


@pytest.mark.parametrize(("case", "raw", "problem"), BROKEN, ids=[c for c, _, _ in BROKEN])
def test_a_broken_masks_file_stops_the_load_naming_the_file_and_key(
    config_path: Path, case: str, raw: bytes, problem: str
) -> None:
    path = _masks_file(config_path)
    path.parent.mkdir()
    path.write_bytes(raw)
    with pytest.raises(OwnerMasksError) as raised:
        load_service_config(config_path)
    err = raised.value
    assert isinstance(err, ConfigError) and err.exit_code == ExitCode.CONFIG
    assert err.source == str(path)
    assert any(problem in p for p in err.problems), err.problems
    assert "delete it to go back to the config file's masks" in err.report()


def test_a_masks_file_that_cannot_be_read_stops_the_load(config_path: Path) -> None:
    path = _masks_file(config_path)
    path.mkdir(parents=True)  # unreadable as a file, even for root
    with pytest.raises(OwnerMasksError, match="cannot read file"):
        load_service_config(config_path)


def test_check_config_says_what_the_saved_masks_change(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(config_path)]) == ExitCode.OK
    assert capsys.readouterr().out == f"{config_path}: OK\n"

    path = _masks_file(config_path)
    path.parent.mkdir()
    write_owner_masks(path, OWNERS)
    assert main(["check-config", str(config_path)]) == ExitCode.OK
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{config_path}: OK",
        f"masks saved in the owner app ({path}) replace the config file's "
        "privacy_masks.color, privacy_masks.areas, motion.masks",
    ]

    write_owner_masks(path, OwnerMasks.of(load_config(config_path)))
    assert main(["check-config", str(config_path)]) == ExitCode.OK
    assert capsys.readouterr().out.splitlines()[1].endswith("the same as the config file's")

    path.write_text("privacy_masks: {color: [0, 0, 0], areas: []}\n")
    assert main(["check-config", str(config_path)]) == ExitCode.CONFIG
    captured = capsys.readouterr()
    assert "OK" not in captured.out
    assert f"config error in {path}:" in captured.err
    assert "motion: Field required" in captured.err


def test_run_refuses_to_start_without_the_saved_masks(
    config_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _masks_file(config_path)
    path.parent.mkdir()
    path.write_text("privacy_masks: [broken\n")
    code = main(["run", "--config", str(config_path), "--source", "test:", "--duration", "0.1"])
    assert code == ExitCode.CONFIG
    assert f"config error in {path}:" in capsys.readouterr().err
    assert not StoragePaths(path.parent).database.exists()  # nothing started
