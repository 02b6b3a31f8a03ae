"""Motion detection on captured frames, used by monitoring (events) and by the privacy stage
(people without a face). ``detector`` holds :class:`MotionDetector`, ``config`` its settings."""
