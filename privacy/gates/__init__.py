"""The streaming gates: what must hold before a camera may stream live, and who may watch.

``policy`` decides (pure), ``store`` and ``viewers`` remember, ``schedule`` reads weekly hours.
The stream controller that acts on the decisions is ``camera_app.live.controller``.
"""

from privacy.gates.policy import GATES, GateCheck, GateReport, evaluate
from privacy.gates.schedule import Schedule, Window
from privacy.gates.viewers import Access, CameraInfo, decide_access

__all__ = [
    "GATES",
    "Access",
    "CameraInfo",
    "GateCheck",
    "GateReport",
    "Schedule",
    "Window",
    "decide_access",
    "evaluate",
]
