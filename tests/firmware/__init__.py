"""Tests of the firmware layer: capture sources, frames and masks, motion detection, the device
identity, the streaming LED, the systemd watchdog and run status."""
