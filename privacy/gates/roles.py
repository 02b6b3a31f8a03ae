"""The closed sets of the streaming gates: who a login is, and what kind of place a camera films.

Used as they are from the config file (``streaming.profile``) through the API to the decision
functions (``privacy.gates.policy``, ``privacy.gates.viewers``). They are ``StrEnum``s, so a value
compares equal to its string and is stored and sent as that string.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who is logged in."""

    OWNER = "owner"  # the device's owner: everything, and accountable for it
    FAMILY = "family"  # invited to home cameras
    PARENT = "parent"  # invited to a kindergarten room, within viewing hours
    PUBLIC = "public"  # a merchant's public viewing link


class Profile(StrEnum):
    """The kind of place a camera films; it decides which gates must hold to stream."""

    HOME = "home"
    KINDERGARTEN = "kindergarten"
    MERCHANT = "merchant"


#: Profiles whose stream carries a per-class mark (the room and the time) when it is published to
#: a relay: their viewers' frames must be traceable, and the device cannot draw each relay
#: viewer's own mark (one encode goes to the relay). The relay host may add per-viewer marks on
#: top from the ticket's ``mark`` claim. Every profile may use a relay: viewers subscribe there
#: with a per-viewer, per-camera ticket that ends with their viewing window and that the device
#: revokes when their access ends (``camera_app.live.tickets``).
RELAY_CLASS_MARK_PROFILES = frozenset({Profile.KINDERGARTEN})

#: Roles that come from an owner's invitation (a row in the viewers table).
INVITED_ROLES = frozenset({Role.FAMILY, Role.PARENT})

#: The profile an invited role is for: family members watch home cameras, parents kindergartens.
PROFILE_OF_ROLE = {Role.FAMILY: Profile.HOME, Role.PARENT: Profile.KINDERGARTEN}


class RegistrationKind(StrEnum):
    """Whose real-name registration a profile needs before it may stream."""

    OWNER = "owner"  # a person: the home owner (resident ID)
    INSTITUTION = "institution"  # a kindergarten (its responsible person plus USCC)
    BUSINESS = "business"  # a shop (its responsible person plus business licence USCC)


#: The registration each profile needs.
REGISTRATION_FOR = {
    Profile.HOME: RegistrationKind.OWNER,
    Profile.KINDERGARTEN: RegistrationKind.INSTITUTION,
    Profile.MERCHANT: RegistrationKind.BUSINESS,
}
