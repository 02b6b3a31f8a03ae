"""Two cameras on one device, for the tests that run ``camera-app run`` with a ``cameras:``
list: two clips told apart by their content, the config that reads them, and the service that
runs it (:func:`two_camera_service`).

- ``door``: a room (``testkit.media.scene_background``) with a person standing in it (the
  astronaut, public domain, shipped with scikit-image) and, once per loop, a bright box crossing
  the middle of the picture: motion, so the door camera makes events.
- ``yard``: a real photo (scikit-image's ``coffee``, public domain) with sensor noise and
  nothing moving: no events, ever, and nothing the privacy stage redacts. (It was the cat
  photo ``chelsea`` until a CI run: the stage takes the cat for a head and covers, in about
  half the frames, the corner the tests tell the cameras apart by.)

The top-right corner (:data:`MARK`) is the room's texture in one and the photo in the other,
and nothing moves there, so a frame is known as the door's or the yard's by that corner alone.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from skimage import data

from firmware.videofile import VideoFileWriter
from testkit.api import Client
from testkit.media import scene_background
from testkit.net import free_port
from testkit.service import owner_of, start_service, stop_service

W, H, FPS = 640, 480, 10
FRAMES = 60  # a 6 s loop
MOVING = (20, 40)  # the door's box crosses in these frames of each loop
MARK = (slice(0, 90), slice(500, 640))  # rows, columns: nothing moves there in either clip


@dataclass(frozen=True, slots=True)
class CameraClip:
    camera_id: str
    name: str
    path: Path
    scene: np.ndarray  # the picture without noise or motion

    def mark_distance(self, image: np.ndarray) -> float:
        """Mean absolute difference of ``image``'s mark corner from this clip's."""
        ours = self.scene[MARK].astype(np.int16)
        return float(np.abs(image[MARK].astype(np.int16) - ours).mean())

    def shows(self, image: np.ndarray) -> bool:
        """Whether ``image`` is this camera's picture (by the mark corner)."""
        return self.mark_distance(image) < 20


def _write(path: Path, scene: np.ndarray, moving: tuple[int, int] | None, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with VideoFileWriter(path, FPS, W, H, crf=18, preset="ultrafast") as writer:
        for i in range(FRAMES):
            img = np.clip(scene.astype(np.int16) + rng.integers(-2, 3, scene.shape), 0, 255)
            img = img.astype(np.uint8)
            if moving and moving[0] <= i <= moving[1]:
                t = (i - moving[0]) / (moving[1] - moving[0])
                bw, bh = W // 10, H // 6
                x = int(t * (W - bw))
                y = H // 2 + 40
                img[y : y + bh, x : x + bw] = (230, 240, 250)
            writer.write(img)


def door_and_yard(directory: Path) -> tuple[CameraClip, CameraClip]:
    """Write both clips into ``directory``; (door, yard)."""
    head = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)[20:300, 120:330]
    room = scene_background(W, H)
    room[100 : 100 + head.shape[0], 200 : 200 + head.shape[1]] = head
    door = CameraClip("door", "Front door", directory / "door.mp4", room)
    _write(door.path, room, MOVING, seed=1)
    photo = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    yard_scene = cv2.resize(photo, (W, H), interpolation=cv2.INTER_AREA)
    yard = CameraClip("yard", "Yard", directory / "yard.mp4", yard_scene)
    _write(yard.path, yard_scene, None, seed=2)
    return door, yard


def two_camera_config(
    clips: tuple[CameraClip, ...], data_dir: Path, port: int, **sections: Any
) -> dict[str, Any]:
    """A ``cameras:`` config reading ``clips`` in real time, looping; ``sections`` are laid
    over it (whole sections)."""
    config: dict[str, Any] = {
        "cameras": [
            {
                "id": clip.camera_id,
                "name": clip.name,
                "room": clip.name,
                "capture": {
                    "source": f"file:{clip.path}",
                    "width": W,
                    "height": H,
                    "fps": FPS,
                    "pacing": "realtime",
                    "loop": True,
                },
            }
            for clip in clips
        ],
        "events": {"trigger_frames": 3, "pre_roll_s": 1.0, "post_roll_s": 1.0},
        "recording": {"preset": "ultrafast"},
        "storage": {"data_dir": str(data_dir), "min_free_mb": 0},
        "api": {"host": "127.0.0.1", "port": port, "tls": False},
    }
    config.update(sections)
    return config


@dataclass
class CameraService:
    """A ``camera-app run`` of a ``cameras:`` config; ``log`` and ``returncode`` are set once it
    stopped (SIGTERM), at the end of :func:`two_camera_service`."""

    door: CameraClip
    yard: CameraClip
    port: int
    data_dir: Path
    process: subprocess.Popen[str]
    log: str = ""
    _owner: Client | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def owner(self) -> Client:
        """The owner, logged in (the account made with a setup code on first use)."""
        if self._owner is None:
            self._owner = owner_of(self.port, self.data_dir)
        return self._owner


@contextlib.contextmanager
def two_camera_service(
    directory: Path,
    *,
    only_door: bool = False,
    more_cameras: tuple[dict, ...] = (),
    **sections: Any,
) -> Iterator[CameraService]:
    """``camera-app run`` with the door and the yard (only the door with ``only_door``) and
    ``more_cameras`` (config entries as they are) in ``directory``; ``sections`` are laid over
    the config as in :func:`two_camera_config`. Stopped with SIGTERM on exit."""
    door, yard = door_and_yard(directory)
    port, data_dir = free_port(), directory / "data"
    settings = two_camera_config((door,) if only_door else (door, yard), data_dir, port, **sections)
    settings["cameras"].extend(more_cameras)
    config = directory / "config.yaml"
    config.write_text(yaml.safe_dump(settings))
    service = CameraService(door, yard, port, data_dir, start_service(config, None))
    try:
        yield service
    finally:
        service.log = stop_service(service.process)
