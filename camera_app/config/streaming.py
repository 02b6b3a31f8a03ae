"""``streaming:`` — parameters of the gated live path. Config alone can never turn it on."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from firmware.configbase import StrictModel
from privacy.gates.roles import Profile
from streaming.limits import ViewerLimits
from streaming.relayconfig import RelayConfig

_NOT_BY_CONFIG = (
    "live streaming cannot be enabled in the config file; the owner turns it on through the "
    "streaming gates (explicit opt-in and real-name registration)"
)
_NO_LED_SWITCH = (
    "the streaming indicator LED cannot be disabled: people in view must see when they are "
    "streamed (only its pin, streaming.indicator_pin, can be set)"
)


class StreamingConfig(StrictModel):
    """Live streaming is off until the owner opts in and registers through the streaming gates;
    there is deliberately no ``enabled`` key, and setting one is an error."""

    profile: Profile = Field(
        default=Profile.HOME,
        description="Which set of streaming gates applies to this camera: home (owner and "
        "invited family), kindergarten (institution, parents with schedules, no audio) or "
        "merchant (business, posted notice, public audience).",
    )
    live_childcare_viewing_permitted: bool = Field(
        default=False,
        description="Jurisdiction switch for the kindergarten profile. Some regions forbid "
        "real-time online viewing of childcare; while this is false a kindergarten camera "
        "cannot stream and nobody can watch it live. Set true only where local rules allow it.",
    )
    notice_reconfirm_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Merchant profile: the owner must re-confirm that the posted notice is still "
        "up at least this often, or the stream stops.",
    )
    notice_remind_days: int = Field(
        default=7,
        ge=0,
        le=364,
        description="Merchant profile: from this many days before the posted notice's "
        "attestation lapses, the owner app shows a re-attestation reminder and one reminder a "
        "day goes out over MQTT (<prefix>/<id>/reminder); 0 = no reminders (the stream still "
        "stops at the lapse, saying why). Not less than notice_reconfirm_days = reminders from "
        "the day of each attestation.",
    )
    indicator_pin: int = Field(
        default=17,
        ge=0,
        le=27,
        description="BCM GPIO pin of the 'live' LED. The LED itself cannot be switched off; "
        "a device whose LED cannot be driven never streams.",
    )
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        max_length=200,
        description="Public base URL under which customers' phones reach the notice page "
        "(printed as a QR code on the merchant sign), e.g. https://shop-cam.example.com. The "
        "default for a notice's public_url; a sign is refused while neither gives an address "
        "a phone on the internet can open (not localhost, a private or link-local address, "
        ".local/.lan/.home.arpa or a single-label name).",
    )

    viewers: ViewerLimits = Field(
        default_factory=ViewerLimits,
        description="Limits of the live view the device serves itself (WHEP sessions): per "
        "camera, per account (per login for a public audience), per public link, the owner's "
        "reserved slots and the time a session has to connect.",
    )
    relay: RelayConfig = Field(
        default_factory=RelayConfig,
        description="Optional relay (WHIP) for many viewers, any profile: each viewer "
        "subscribes there with a short-lived ticket the device signs for one camera, which the "
        "relay checks and the device can revoke (docs/relay.md).",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_enable(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if any(k in data for k in ("enabled", "enable", "on")):
                raise ValueError(_NOT_BY_CONFIG)
            if any(k in data for k in ("indicator", "indicator_enabled", "led")):
                raise ValueError(_NO_LED_SWITCH)
        return data
