"""``privacy:`` — the privacy stage every streamed frame passes (detect → track → redact → gate)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from firmware.configbase import StrictModel


class DetectorSpec(StrictModel):
    """One face detector of the privacy stage."""

    model: Literal["blazeface_short_range", "blazeface_full_range", "centerface"] = Field(
        description="Model from the pinned manifest (privacy/models/manifest.json)."
    )
    min_score: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Lowest score this detector reports (the bottom of its uncertain band). "
        "Default per model: 0.15 for centerface (finds small faces at low scores), 0.45 for "
        "BlazeFace (large false boxes on texture below that).",
    )
    every: int = Field(
        default=1,
        ge=1,
        le=30,
        description="Search on every Nth frame only (the parts that changed, or the whole "
        "frame when a sweep is due); tracks cover faces in between. The first, whole-frame "
        "search of a stream or a new scene is made by every detector.",
    )

    @property
    def floor(self) -> float:
        """The detector's effective lowest reported score."""
        if self.min_score is not None:
            return self.min_score
        return _DEFAULT_FLOORS[self.model]


_DEFAULT_FLOORS = {"centerface": 0.15, "blazeface_full_range": 0.45, "blazeface_short_range": 0.45}


class PrivacyConfig(StrictModel):
    """Thresholds of the privacy stage. The defaults fail closed: when in doubt, withhold."""

    detectors: list[DetectorSpec] = Field(
        default_factory=lambda: [
            DetectorSpec(model="blazeface_full_range", every=1),
            DetectorSpec(model="centerface", every=1),
        ],
        min_length=1,
        description="Face detectors and how often each runs (every N frames); their detections "
        "are merged. The first is the cheap every-frame one: it runs on the whole frame when "
        "much changes and holds the big faces it is sure of. Measured choice: "
        "docs/privacy-detectors.md.",
    )
    sweep_frames: int = Field(
        default=30,
        ge=1,
        le=900,
        description="Every part of the picture is searched again at least every this many "
        "frames (a rolling sweep, one quarter of the picture per frame on the first four "
        "frames of each period; below 4, the whole picture on every frame). Otherwise only "
        "what changed since it was last searched is searched again (a face whose pixels "
        "have not changed since it was found stays redacted); a face missed once gets "
        "another chance at each sweep.",
    )
    lookahead_frames: int = Field(
        default=2,
        ge=0,
        le=5,
        description="Frames a streamed frame waits for the ones after it: a face found on any "
        "of them is redacted on it too (someone coming into view, turning or stepping out from "
        "behind something is often found a frame or two after their face first shows). Adds "
        "this many frames of latency. With 1 or more, the thorough detectors search a busy "
        "scene on every other frame: a face they find covers the frame they skipped. 0: each "
        "frame leaves as soon as it is processed, every frame searched.",
    )
    crop_scale: float = Field(
        default=1.5,
        ge=1.0,
        le=3.0,
        description="Crops (what changed, faces to refresh, sweep tiles) are enlarged by this "
        "before detection, so that small faces (12-20 px) get enough pixels: at 1.5 CenterFace "
        "finds all 67 faces under 20 px of the development set's crowd frames, at 1.0 60 "
        "(docs/privacy-detectors.md). Whole-frame searches are not enlarged.",
    )
    confident_score: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A detection at or above this is a face; below it (down to each detector's "
        "min_score) it is uncertain.",
    )
    uncertain_action: Literal["withhold", "redact"] = Field(
        default="redact",
        description="What an uncertain detection does: redact it like a face (the box is grown "
        "more), or withhold the frame.",
    )
    memory_frames: int = Field(
        default=8,
        ge=0,
        le=100,
        description="Frames a face stays redacted after its last detection (its box predicted).",
    )
    enlarge: float = Field(
        default=1.6, ge=1.0, le=4.0, description="Redaction box size relative to the face box."
    )
    method: Literal["fill", "pixelate"] = Field(
        default="fill",
        description="fill: solid colour (nothing of the face remains); pixelate: 4 blocks "
        "across plus noise.",
    )
    deadline_ms: float = Field(
        default=500,
        gt=0,
        le=5000,
        description="A frame whose detection takes longer is withheld (and later frames too, "
        "while the detector is still busy).",
    )
    person_check: bool = Field(
        default=True,
        description="Look for person-sized motion with no face where the head should be.",
    )
    far_person_height: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description="A faceless moving person shorter than this fraction of the frame height "
        "has their head area redacted; a taller one withholds the frame.",
    )
    near_faceless: Literal["withhold", "redact"] = Field(
        default="withhold",
        description="A near moving person with no face found where the head is: withhold the "
        "frame, or block out the whole person.",
    )
    heads: bool = Field(
        default=True,
        description="Look for heads (the BlazePose person detector) where a person-sized blob "
        "moves with no face found, and in the tiles of the rolling sweep (people sitting "
        "still): a head found is redacted like a face, so a profile, a head turning away or "
        "someone half hidden is covered instead of withholding the frame. Measured in "
        "docs/privacy-detectors.md (head detector).",
    )
    head_min_score: float = Field(
        default=0.3,
        gt=0,
        lt=1,
        description="Lowest person score of a head that is redacted.",
    )
    min_brightness: float = Field(
        default=8,
        ge=0,
        le=255,
        description="Mean grey level below which a frame is too dark to vouch for (withheld). "
        "Darker frames than dark_lift_below are brightened for the detectors; measured in "
        "docs/privacy-detectors.md (dark scenes).",
    )
    dark_lift_below: float = Field(
        default=16,
        ge=0,
        le=255,
        description="Mean grey level below which the detectors search a brightened copy of the "
        "frame (the streamed picture is not changed).",
    )
    min_sharpness: float = Field(
        default=8,
        ge=0,
        description="Laplacian variance (on a small grey copy) below which a frame is too blurred "
        "or the lens is covered.",
    )
    scene_change: float = Field(
        default=45,
        gt=0,
        le=255,
        description="Mean grey-level change between frames that counts as a sudden scene change "
        "(tracks restart; detection must run on the new scene first).",
    )
    release_frames: int = Field(
        default=2,
        ge=0,
        le=100,
        description="After a withheld frame, this many clean frames in a row are needed before "
        "streaming resumes (hysteresis).",
    )

    @model_validator(mode="after")
    def _consistent(self) -> PrivacyConfig:
        for spec in self.detectors:
            if spec.floor >= self.confident_score:
                raise ValueError(
                    f"{spec.model}: min_score {spec.floor} must be lower than confident_score"
                )
        slowest = max(d.every for d in self.detectors)
        if self.memory_frames < slowest:
            raise ValueError(
                f"memory_frames ({self.memory_frames}) must cover the slowest detector's "
                f"interval ({slowest} frames), or faces it alone sees would flicker unredacted"
            )
        return self
