"""The streaming gates of each profile, as a pure function of what the device knows.

A camera may stream only while *every* gate of its profile holds:

========================  ====  ============  ========  ============================================
gate                      home  kindergarten  merchant  holds when
========================  ====  ============  ========  ============================================
``indicator``             yes   yes           yes       the "live" LED can be driven
``opt_in``                yes   yes           yes       the owner opted in, for this profile
``registration``          yes   yes           yes       an active real-name registration of the
                                                        profile's kind (owner / institution /
                                                        business)
``live_viewing_allowed``        yes                     the jurisdiction switch permits live viewing
                                                        of childcare
``guardian_consent``            yes                     a guardian consent record is in force
``notice_posted``                             yes       a posted-notice sign exists and the owner
                                                        attested that it is posted
``notice_current``                            yes       that attestation is younger than N days
``notice_hours``                              yes       now is inside the streaming hours printed on
                                                        the sign
========================  ====  ============  ========  ============================================

Every check carries a stable ``name``, whether it holds, and why not in English and Chinese, so
the owner UI can show exactly what is missing. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from privacy.gates.roles import REGISTRATION_FOR, Profile
from privacy.gates.store import GuardianConsent, OptIn, PostedNotice
from privacy.registration import Registration, with_article

GATES: dict[Profile, tuple[str, ...]] = {
    Profile.HOME: ("indicator", "opt_in", "registration"),
    Profile.KINDERGARTEN: (
        "indicator",
        "opt_in",
        "registration",
        "live_viewing_allowed",
        "guardian_consent",
    ),
    Profile.MERCHANT: (
        "indicator",
        "opt_in",
        "registration",
        "notice_posted",
        "notice_current",
        "notice_hours",
    ),
}

# (English, Chinese) explanation of each closed gate
_CLOSED: dict[str, tuple[str, str]] = {
    "indicator": (
        "the streaming indicator LED is not available, so people in view could not see that "
        "they are streamed",
        "直播指示灯不可用，画面中的人无法得知正在直播",
    ),
    "opt_in": (
        "the owner has not opted in to live streaming for this camera and profile",
        "所有者尚未为此摄像头及直播类型确认开启直播",
    ),
    "registration": (
        "no active real-name registration of the kind this profile needs",
        "没有此直播类型所需的有效实名登记",
    ),
    "live_viewing_allowed": (
        "live viewing of childcare is disabled for this jurisdiction "
        "(streaming.live_childcare_viewing_permitted)",
        "本地区已禁用托育机构实时在线观看",
    ),
    "guardian_consent": (
        "no guardian consent record in force for this camera",
        "此摄像头没有有效的监护人同意记录",
    ),
    "notice_posted": (
        "no posted-notice sign has been generated and attested as posted",
        "尚未生成并确认张贴直播提示牌",
    ),
    "notice_current": (
        "the posted notice must be re-confirmed: attest again that the sign is still posted",
        "需要重新确认提示牌仍在张贴",
    ),
    "notice_hours": (
        "outside the streaming hours printed on the posted notice",
        "当前不在提示牌所列的直播时间内",
    ),
}


@dataclass(frozen=True, slots=True)
class GateCheck:
    name: str
    ok: bool
    reason: str | None = None
    reason_zh: str | None = None

    def to_json(self, lang: str = "en") -> dict[str, object]:
        return {
            "gate": self.name,
            "ok": self.ok,
            "reason": self.reason_zh if lang == "zh" else self.reason,
        }


@dataclass(frozen=True, slots=True)
class GateReport:
    """The state of every gate of one camera's profile at one moment."""

    camera_id: str
    profile: Profile
    checks: tuple[GateCheck, ...] = field(default_factory=tuple)

    @property
    def open(self) -> bool:
        """True when every gate holds, i.e. the camera may stream."""
        return all(c.ok for c in self.checks)

    @property
    def closed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def to_json(self, lang: str = "en") -> dict[str, object]:
        return {
            "camera_id": self.camera_id,
            "profile": self.profile,
            "open": self.open,
            "gates": [c.to_json(lang) for c in self.checks],
        }


@dataclass(frozen=True, slots=True)
class GateInputs:
    """Everything the gates of one camera look at, gathered by the caller at one moment."""

    camera_id: str
    profile: Profile
    now: float
    local_now: datetime
    indicator_available: bool
    opt_in: OptIn | None
    registrations: tuple[Registration, ...]
    live_childcare_permitted: bool = False
    consent: GuardianConsent | None = None
    notice: PostedNotice | None = None
    notice_reconfirm_s: float = 30 * 86400


def notice_lapsed(notice: PostedNotice, now: float, reconfirm_s: float) -> bool:
    """Whether a notice's last attestation is older than the re-confirmation period."""
    return notice.attested_at is None or now - notice.attested_at >= reconfirm_s


def reattest_due(
    notice: PostedNotice, now: float, reconfirm_s: float, remind_s: float
) -> float | None:
    """When the notice's attestation lapses, once that is ``remind_s`` or less away (or has
    passed); None while it is further away or the notice was never attested."""
    if notice.attested_at is None:
        return None
    lapses_at = notice.attested_at + reconfirm_s
    return lapses_at if now >= lapses_at - remind_s else None


def _holds(gate: str, i: GateInputs) -> tuple[bool, str | None]:
    """Whether one gate holds, and a detail to add to the reason when it does not."""
    if gate == "indicator":
        return i.indicator_available, None
    if gate == "opt_in":
        if i.opt_in is None:
            return False, None
        if i.opt_in.profile != i.profile:
            return False, f"the opt-in was for the {i.opt_in.profile} profile"
        return True, None
    if gate == "registration":
        kind = REGISTRATION_FOR[i.profile]
        ok = any(r.kind == kind and r.active for r in i.registrations)
        return ok, None if ok else f"needs {with_article(kind)} registration"
    if gate == "live_viewing_allowed":
        return i.live_childcare_permitted, None
    if gate == "guardian_consent":
        ok = (
            i.consent is not None and i.consent.revoked_at is None and i.consent.valid_until > i.now
        )
        return ok, None
    if gate == "notice_posted":
        return i.notice is not None and i.notice.attested_at is not None, None
    if gate == "notice_current":
        if i.notice is None or i.notice.attested_at is None:
            return False, None
        days = i.notice_reconfirm_s / 86400
        ok = not notice_lapsed(i.notice, i.now, i.notice_reconfirm_s)
        return ok, None if ok else f"the last confirmation is more than {days:g} days old"
    if gate == "notice_hours":
        if i.notice is None:
            return False, None
        ok = i.notice.hours.contains(i.local_now)
        return ok, None if ok else f"posted hours: {i.notice.hours.describe()}"
    raise ValueError(f"unknown gate {gate}")


def _for_this_camera(inputs: GateInputs) -> GateInputs:
    """Drop records that belong to another camera: they never open this camera's gates."""
    cid = inputs.camera_id
    return replace(
        inputs,
        opt_in=inputs.opt_in if inputs.opt_in and inputs.opt_in.camera_id == cid else None,
        consent=inputs.consent if inputs.consent and inputs.consent.camera_id == cid else None,
        notice=inputs.notice if inputs.notice and inputs.notice.camera_id == cid else None,
    )


def evaluate(inputs: GateInputs) -> GateReport:
    """Check every gate of the camera's profile; an unknown profile closes everything."""
    inputs = _for_this_camera(inputs)
    gates = GATES.get(inputs.profile)
    if gates is None:
        check = GateCheck("profile", False, f"unknown profile {inputs.profile!r}", "未知直播类型")
        return GateReport(inputs.camera_id, inputs.profile, (check,))
    checks = []
    for gate in gates:
        ok, detail = _holds(gate, inputs)
        if ok:
            checks.append(GateCheck(gate, True))
        else:
            en, zh = _CLOSED[gate]
            checks.append(GateCheck(gate, False, f"{en} ({detail})" if detail else en, zh))
    return GateReport(inputs.camera_id, inputs.profile, tuple(checks))
