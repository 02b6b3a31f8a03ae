"""The private monitoring path: motion, events, clips, snapshots, index and retention."""

from camera_app.monitor.pipeline import MonitoringPipeline
from camera_app.monitor.store import EventRecord, EventStore
from camera_app.monitor.upkeep import recover_interrupted

__all__ = ["EventRecord", "EventStore", "MonitoringPipeline", "recover_interrupted"]
