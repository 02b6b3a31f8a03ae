"""The ``cameras:`` form of the config: each camera's own sections as one-camera views, the
errors that name their key (both forms, an id twice, one device node twice, two time zones,
top-level masks), ``--source`` refused with several cameras, and each camera's masks saved in
a file of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from camera_app import cli
from camera_app.cli import main
from camera_app.config import ConfigError, load_service_config, parse_config
from camera_app.config.owner_masks import (
    OwnerMasks,
    OwnerMasksError,
    SavedMotionMasks,
    SavedPrivacyMasks,
    owner_masks_path,
    write_owner_masks,
)
from camera_app.live.subsystem import cameras_from_config
from camera_app.masks import ConfigInForce, Masks, MaskSettings
from firmware.configbase import NamedPolygon
from firmware.errors import ExitCode
from firmware.paths import StoragePaths
from testkit.clock import FakeClock

WINDOW = {"name": "window", "points": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}
TREE = {"name": "tree", "points": [[0.5, 0.5], [0.9, 0.5], [0.9, 0.9]]}


def _two(**extra: object) -> dict:
    return {
        "cameras": [
            {
                "id": "door",
                "name": "Front door",
                "room": "Hall",
                "capture": {"source": "v4l2:/dev/video0", "width": 1280, "height": 720},
                "privacy_masks": {"areas": [WINDOW]},
            },
            {
                "id": "yard",
                "name": "Yard",
                "capture": {"source": "rtsp://cam.local/stream", "fps": 10},
                "motion_masks": [TREE],
            },
        ],
        **extra,
    }


def test_each_camera_is_a_one_camera_view_with_its_own_sections() -> None:
    config = parse_config(_two(motion={"threshold": 40}))
    door, yard = config.views()
    assert (door.camera.id, door.camera.name, door.camera.room) == ("door", "Front door", "Hall")
    assert door.capture.source == "v4l2:/dev/video0" and door.capture.width == 1280
    assert [a.name for a in door.privacy_masks.areas] == ["window"] and door.motion.masks == []
    assert yard.capture.fps == 10 and yard.privacy_masks.areas == []
    assert [m.name for m in yard.motion.masks] == ["tree"]
    # the device's sections are every camera's
    assert door.motion.threshold == yard.motion.threshold == 40
    assert door.cameras is None and config.view("yard") == yard
    assert list(cameras_from_config(config)) == ["door", "yard"]
    assert cameras_from_config(config)["door"].room == "Hall"


def test_the_one_camera_form_is_its_own_only_view() -> None:
    config = parse_config({"camera": {"id": "porch"}, "capture": {"source": "test:"}})
    assert config.views() == [config]
    assert config.first_camera().id == "porch"
    assert list(cameras_from_config(config)) == ["porch"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {**_two(), "camera": {"id": "x"}},
            "camera: give either cameras: (several cameras) or camera: and capture:",
        ),
        ({**_two(), "capture": {"fps": 5}}, "capture: give either cameras:"),
        (
            {"cameras": [{"id": "a", "capture": {"source": "test:"}}] * 2},
            "cameras[1].id: 'a' is already the id of cameras[0]",
        ),
        (
            {
                "cameras": [
                    {"id": "a", "capture": {"source": "v4l2:/dev/video0"}},
                    {"id": "b", "capture": {"source": "v4l2:/dev//video0"}},
                ]
            },
            "cameras[1].capture.source: /dev/video0 is already read by cameras[0]",
        ),
        (
            {"cameras": [{"id": "a"}, {"id": "b", "capture": {"source": "picamera2"}}]},
            "cameras[1].capture.source: the Pi camera (auto/picamera2) is already read by "
            "cameras[0]",
        ),
        (
            {
                "cameras": [
                    {"id": "a", "timezone": "Asia/Shanghai", "capture": {"source": "test:"}},
                    {"id": "b", "capture": {"source": "test:"}},
                ]
            },
            "cameras[1].timezone: differs from cameras[0]'s",
        ),
        (
            {**_two(), "privacy_masks": {"areas": [WINDOW]}},
            "privacy_masks.areas: with cameras:, each camera has its own",
        ),
        ({**_two(), "motion": {"masks": [TREE]}}, "motion.masks: with cameras:"),
        ({"cameras": []}, "cameras: List should have at least 1 item"),
        ({"cameras": [{"name": "x"}]}, "cameras[0].id: Field required"),
        ({"cameras": [{"id": "a", "capture": {"fsp": 3}}]}, "cameras[0].capture.fsp: unknown key"),
    ],
)
def test_errors_name_the_key(data: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(data, "c.yaml")
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


def test_files_are_not_one_device_node() -> None:
    clip = {"source": "file:/srv/clip.mp4"}
    config = parse_config({"cameras": [{"id": "a", "capture": clip}, {"id": "b", "capture": clip}]})
    assert [v.camera.id for v in config.views()] == ["a", "b"]


def test_check_config_shows_the_key_of_a_cameras_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"cameras": [{"id": "a"}, {"id": "a"}]}))
    assert main(["check-config", str(path)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "cameras[1].id: 'a' is already the id of cameras[0]" in err


def test_run_refuses_source_with_several_cameras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # `run` sets up logging on this test's captured stderr, which is closed after it: later
    # tests' log records would meet a closed stream (test_errors saw "Logging error")
    monkeypatch.setattr(cli, "_setup_logging", lambda level: None)
    data = tmp_path / "data"
    path = tmp_path / "c.yaml"
    two = _two(storage={"data_dir": str(data)})
    path.write_text(yaml.safe_dump(two))
    code = main(["run", "--config", str(path), "--source", "test:", "--duration", "0.1"])
    assert code == ExitCode.CONFIG
    assert "--source: only with one camera; this config lists 2" in capsys.readouterr().err
    assert not (data / "camera.db").exists()  # nothing started


def _saved(area: dict) -> OwnerMasks:
    return OwnerMasks(
        privacy_masks=SavedPrivacyMasks(color=(0, 0, 255), areas=[NamedPolygon(**area)]),
        motion=SavedMotionMasks(masks=[]),
    )


def test_each_cameras_saved_masks_are_laid_over_that_camera_only(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_two(storage={"data_dir": str(tmp_path / "data")})))
    file = load_service_config(path).file
    where = owner_masks_path(file, "yard")
    assert where == tmp_path / "data" / "owner-masks" / "yard.yaml"
    where.parent.mkdir(parents=True)
    write_owner_masks(where, _saved(TREE))

    loaded = load_service_config(path)
    yard = loaded.config.view("yard")
    assert [a.name for a in yard.privacy_masks.areas] == ["tree"]
    assert yard.privacy_masks.color == (0, 0, 255) and yard.motion.masks == []
    door = loaded.config.view("door")
    assert [a.name for a in door.privacy_masks.areas] == ["window"]  # the file's, untouched
    assert loaded.replaced() == [
        "cameras[1].privacy_masks.color",
        "cameras[1].privacy_masks.areas",
        "cameras[1].motion_masks",
    ]


def test_a_one_camera_masks_file_is_refused_with_several_cameras(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_two(storage={"data_dir": str(tmp_path / "data")})))
    (tmp_path / "data").mkdir()
    write_owner_masks(StoragePaths(tmp_path / "data").owner_masks, _saved(WINDOW))
    with pytest.raises(OwnerMasksError) as err:
        load_service_config(path)
    assert "move the file to owner-masks/<camera id>.yaml" in str(err.value)


def test_saving_one_cameras_masks_keeps_the_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    StoragePaths(data).create()
    config = parse_config(_two(storage={"data_dir": str(data)}))
    clock = FakeClock(1_800_000_000.0)
    shared = ConfigInForce(config)
    door = MaskSettings(
        config, StoragePaths(data).database, clock, camera_id="door", in_force=shared
    )
    yard = MaskSettings(
        config, StoragePaths(data).database, clock, camera_id="yard", in_force=shared
    )
    try:
        assert [p.name for p in door.current.privacy] == ["window"]
        tree = NamedPolygon(**TREE)
        yard.save(Masks(privacy=(tree,), motion=(), color=(0, 0, 0)), actor="owner")
        door.save(Masks(privacy=(), motion=(tree,), color=(0, 0, 0)), actor="owner")
        assert [p.name for p in yard.current.privacy] == ["tree"]
        assert door.current.privacy == () and [m.name for m in door.current.motion] == ["tree"]
        # both saves are in the one config in force, each in its camera's file
        both = shared.config
        assert [a.name for a in both.view("yard").privacy_masks.areas] == ["tree"]
        assert [m.name for m in both.view("door").motion.masks] == ["tree"]
        assert (data / "owner-masks" / "door.yaml").exists()
        assert (data / "owner-masks" / "yard.yaml").exists()
        assert not StoragePaths(data).owner_masks.exists()
    finally:
        door.close()
        yard.close()
