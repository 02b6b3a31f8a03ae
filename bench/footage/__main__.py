"""``python -m bench.footage --dest var/faces-extra [--cache var/footage-cache] [clip ...]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bench.footage.fetch import FootageError, build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footage", description=__doc__)
    parser.add_argument("--dest", type=Path, default=Path("var/faces-extra"))
    parser.add_argument("--cache", type=Path, default=Path("var/footage-cache"))
    parser.add_argument("clips", nargs="*", help="clip names (default: all in sources.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        written = build(args.dest, args.cache, only=args.clips or None)
    except FootageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(written)} annotated clips in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
