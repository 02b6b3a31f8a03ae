"""Writes frames to a fragmented MP4 (H.264) that stays playable if the power is cut."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from camera_app.monitor.preroll import KeptFrame
from firmware.frames import Frame

log = logging.getLogger(__name__)

# empty_moov + frag_keyframe: the header holds no sample table and every keyframe starts a
# self-contained fragment (moof+mdat), so a file cut anywhere plays up to its last whole fragment.
# flush_packets pushes each fragment to the kernel as soon as it is complete.
_MUXER_OPTIONS = {
    "movflags": "frag_keyframe+empty_moov+default_base_moof",
    "flush_packets": "1",
}
_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class ClipInfo:
    frames: int
    duration_s: float
    bytes: int


class ClipWriter:
    """One clip: ``write()`` frames in order, then ``close()``.

    Presentation times come from the frames' own timestamps (milliseconds since the first frame),
    so a clip with dropped frames still plays at the right speed.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        *,
        crf: int = 26,
        preset: str = "veryfast",
        fragment_s: float = 1.0,
    ) -> None:
        self.path = path
        # yuv420p needs even dimensions; an odd last row/column is cropped.
        self._width = width - width % 2
        self._height = height - height % 2
        gop = max(1, round(fps * fragment_s))
        self._container = av.open(str(path), mode="w", format="mp4", options=_MUXER_OPTIONS)
        try:
            stream = self._container.add_stream(
                "libx264", rate=Fraction(fps).limit_denominator(1001)
            )
            stream.width = self._width
            stream.height = self._height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = _TIME_BASE
            stream.codec_context.gop_size = gop
            # zerolatency: no B-frames or look-ahead, so each frame is muxed as it is encoded and
            # little is held in memory when the power goes.
            stream.options = {
                "crf": str(crf),
                "preset": preset,
                "tune": "zerolatency",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0",
            }
        except Exception:
            self._container.close()
            raise
        self._stream = stream
        self._first_ts: float | None = None
        self._last_pts = -1
        self._frames = 0
        self._encoded_bytes = 0
        self._frame_ms = max(1, round(1000 / fps))

    def write(self, frame: Frame | KeptFrame) -> None:
        """Encode one frame; a pre-roll frame kept as I420 goes to the encoder as it is (it is
        what the encoder would have made of the BGR frame)."""
        if isinstance(frame, KeptFrame):
            if frame.size == (self._width, self._height) and frame.pixels.ndim == 2:
                self._encode(av.VideoFrame.from_ndarray(frame.pixels, format="yuv420p"), frame)
                return
            frame = frame.frame()
        image = frame.image
        if image.shape[1] != self._width or image.shape[0] != self._height:
            image = image[: self._height, : self._width]
        self._encode(av.VideoFrame.from_ndarray(image, format="bgr24"), frame)

    def _encode(self, video_frame: av.VideoFrame, frame: Frame | KeptFrame) -> None:
        if self._first_ts is None:
            self._first_ts = frame.timestamp
        pts = round((frame.timestamp - self._first_ts) * 1000)
        pts = max(pts, self._last_pts + 1)
        video_frame.pts = pts
        video_frame.time_base = _TIME_BASE
        for packet in self._stream.encode(video_frame):
            self._encoded_bytes += packet.size
            self._container.mux(packet)
        self._last_pts = pts
        self._frames += 1

    @property
    def encoded_bytes(self) -> int:
        """Bytes of video encoded so far, including what the muxer still holds in memory for
        the current fragment (the file on disk lags by up to one fragment)."""
        return self._encoded_bytes

    def close(self) -> ClipInfo:
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        duration = (self._last_pts + self._frame_ms) / 1000 if self._frames else 0.0
        size = self.path.stat().st_size if self.path.exists() else 0
        return ClipInfo(frames=self._frames, duration_s=duration, bytes=size)

    def abort(self) -> None:
        """Close after a failure (disk full): keep what is on disk, never raise."""
        try:
            self._container.close()
        except Exception as err:  # the file is already damaged; what was flushed stays playable
            log.debug("closing %s after failure: %s", self.path, err)


def probe_clip(path: Path) -> ClipInfo | None:
    """Count the frames a (possibly cut-off) clip really holds; None if it holds none."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            # read while the container is open (PyAV 18.1.1 refuses a closed one's streams)
            rate = float(stream.average_rate or 0) or 15.0
            frames = 0
            first = last = None
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                frames += 1
                t = float(packet.pts * packet.time_base)
                first = t if first is None else min(first, t)
                last = t if last is None else max(last, t)
    except (av.error.FFmpegError, IndexError, OSError) as err:
        log.warning("clip %s is unreadable: %s", path, err)
        return None
    if not frames or first is None or last is None:
        return None
    return ClipInfo(frames=frames, duration_s=last - first + 1 / rate, bytes=path.stat().st_size)
