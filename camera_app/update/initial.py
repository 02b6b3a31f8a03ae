"""The first install: a local release bundle into slot a (run by the install script).

    python -m camera_app.update.initial --data-dir /var/lib/camera-app BUNDLE

Run it with the base environment's Python (the one holding the app's dependencies). Later
releases come only through ``camera-app update apply``, verified by TUF; this entry point refuses
once a release is installed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from camera_app.update.device import install_initial
from camera_app.update.errors import UpdateError
from firmware.clock import SystemClock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camera_app.update.initial",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("bundle", type=Path, help="release bundle (.tar.gz)")
    parser.add_argument("--data-dir", type=Path, required=True, help="storage.data_dir")
    parser.add_argument("--base-env", type=Path, help="base environment (default: this one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        version = install_initial(args.data_dir, args.bundle, clock=SystemClock(),
                                  base_env=args.base_env)  # fmt: skip
    except UpdateError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    sys.stdout.write(f"release {version} installed into slot a and active\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
