"""What the site knows of its devices: what each publishes (online, its cameras and their rooms,
the grants it took). Nothing here comes from anywhere but the devices' own messages."""

from __future__ import annotations

from dataclasses import dataclass, field

from camera_app.sitelink.protocol import CameraAnnouncement, GrantsAck


@dataclass
class DeviceState:
    id: str
    online: bool = False
    cameras: tuple[CameraAnnouncement, ...] = ()
    ack: GrantsAck | None = None

    @property
    def rooms(self) -> set[str]:
        return {c.room for c in self.cameras if c.room}


@dataclass(frozen=True, slots=True)
class RoomCamera:
    """A camera filming a room, on one device."""

    device: str
    camera: str
    name: str
    room: str
    online: bool

    def to_json(self) -> dict[str, object]:
        return {
            "device": self.device,
            "camera": self.camera,
            "name": self.name,
            "room": self.room,
            "online": self.online,
        }


@dataclass
class Directory:
    """The site's devices by id; rooms map to the cameras that film them."""

    devices: dict[str, DeviceState] = field(default_factory=dict)

    def device(self, device_id: str) -> DeviceState:
        return self.devices.setdefault(device_id, DeviceState(device_id))

    def cameras_of_room(self, room: str) -> list[RoomCamera]:
        return [
            RoomCamera(d.id, c.id, c.name, room, d.online)
            for d in sorted(self.devices.values(), key=lambda d: d.id)
            for c in d.cameras
            if c.room == room
        ]

    def rooms(self) -> dict[str, list[RoomCamera]]:
        names = sorted({r for d in self.devices.values() for r in d.rooms})
        return {room: self.cameras_of_room(room) for room in names}

    def clashes(self) -> dict[str, list[str]]:
        """Camera ids that more than one device publishes, with those devices. The relay's room
        is the camera id, so two such cameras would share one room: a viewer of one could be
        given the other's picture. The site asks no ticket for them until one is renamed."""
        users: dict[str, list[str]] = {}
        for state in sorted(self.devices.values(), key=lambda d: d.id):
            for camera_id in sorted({c.id for c in state.cameras}):
                users.setdefault(camera_id, []).append(state.id)
        return {camera_id: ids for camera_id, ids in users.items() if len(ids) > 1}

    def camera(self, device_id: str, camera_id: str) -> CameraAnnouncement | None:
        state = self.devices.get(device_id)
        if state is None:
            return None
        return next((c for c in state.cameras if c.id == camera_id), None)
