"""Signed updates (TUF), installed A/B with a health check, automatic rollback, and a notice
period for releases that change detection, redaction or streaming. See docs/updates.md.

For other parts of the app: :func:`load_update_status` (no network) gives the
:class:`UpdateStatus` to show in the owner API, MQTT state and the public notice page;
:class:`DeviceUpdater` runs check / apply / rollback / resume.
"""

from camera_app.update.device import (
    AuditSink,
    CheckResult,
    DeviceUpdater,
    UpdateResult,
    audit_to,
)
from camera_app.update.errors import (
    BundleError,
    InstallError,
    NoticePeriodError,
    StateError,
    UpdateBusyError,
    UpdateError,
    UpdateRefused,
)
from camera_app.update.layout import UpdatePaths
from camera_app.update.status import (
    LastUpdateResult,
    ModelVersion,
    PendingUpdate,
    UpdateStatus,
    load_update_status,
)

__all__ = [
    "AuditSink",
    "BundleError",
    "CheckResult",
    "DeviceUpdater",
    "InstallError",
    "LastUpdateResult",
    "ModelVersion",
    "NoticePeriodError",
    "PendingUpdate",
    "StateError",
    "UpdateBusyError",
    "UpdateError",
    "UpdatePaths",
    "UpdateRefused",
    "UpdateResult",
    "UpdateStatus",
    "audit_to",
    "load_update_status",
]
