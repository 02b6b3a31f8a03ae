"""The monitoring path: events and pre-roll, the pipeline, clips and their retention."""
