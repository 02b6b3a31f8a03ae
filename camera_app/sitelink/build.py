"""Builds the device's site link from the config (None while ``site.enabled`` is false)."""

from __future__ import annotations

import sqlite3

from camera_app.config.app import AppConfig
from camera_app.live.subsystem import LiveSubsystem
from camera_app.sitelink.grants import SiteGrants
from camera_app.sitelink.link import SiteLink
from firmware.clock import Clock
from privacy.audit import AuditLog


def site_device_id(config: AppConfig) -> str:
    """The device's id at the site: ``site.device_id``, else its MQTT device id, else its first
    camera's id (as for MQTT); the CN of its site certificate."""
    return config.site.device_id or config.mqtt.device_id or config.first_camera().id


def build_site_link(
    config: AppConfig, conn: sqlite3.Connection, live: LiveSubsystem, audit: AuditLog, clock: Clock
) -> SiteLink | None:
    """Build and start the link on the owner API's loop; None when the site is off."""
    if not config.site.enabled:
        return None
    grants = SiteGrants(conn, live.controller.viewers, audit, clock, live.controller.cameras)
    link = SiteLink(config.site, site_device_id(config), live, grants, clock, conn)
    link.start()
    return link
