"""``camera-site``: the site server (issue 16) on the relay host.

    camera-site run --config /etc/camera-site/site.yaml
    camera-site add-account --config FILE --username NAME [--role staff|parent]
    camera-site verify-audit --config FILE
    camera-site export-audit --config FILE [--output FILE]
    camera-site new-setup-code --config FILE

``run`` on a site without a staff account shows a one-time setup code on the console: the first
staff account is made with it on the site's page (``new-setup-code`` shows another one).

``add-account`` reads the password from standard input (a first staff account is made this way;
staff then add parents on the site itself). ``verify-audit`` checks the hash chain of the site's
own audit log and exits non-zero (``ExitCode.TAMPERED``) when it does not hold; ``export-audit``
writes the log as JSON Lines (standard output, or ``--output``), as the devices'
``camera-app audit export`` does.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from firmware.clock import SystemClock
from firmware.errors import AppError, ExitCode
from privacy.audit import AuditLog
from site_app.accounts import SiteAccounts, SiteRole, create_account, prepare_password
from site_app.config import load_site_config
from site_app.db import export_site_log, open_site_database, verify_site_log
from site_app.service import SiteService
from site_app.setup import SiteSetup, announce
from site_app.web.server import serve

log = logging.getLogger("camera-site")


async def _run(config_path: Path) -> None:
    config = load_site_config(config_path)
    service = SiteService.open(config, SystemClock())
    service.start()
    runner, url = await serve(service)
    log.info("site listening on %s", url)
    sys.stdout.write(f"site listening on {url}\n")
    sys.stdout.flush()
    _first_run(service, url, config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await service.close()


def _first_run(service: SiteService, url: str, config_path: Path) -> None:
    """Without a staff account: show a setup code once (or say how to get a new one)."""
    setup = service.setup
    if not setup.needed():
        return
    if setup.pending():
        log.warning(
            "no staff account yet: use the setup code shown at first start, or make a new one "
            "with: camera-site new-setup-code --config %s",
            config_path,
        )
        return
    announce(setup.issue(), url, str(config_path))
    log.warning("no staff account yet: a one-time setup code was shown on the console")


def _new_setup_code(args: argparse.Namespace) -> int:
    config = load_site_config(args.config)
    conn = open_site_database(config.data_dir)
    try:
        clock = SystemClock()
        accounts = SiteAccounts(conn, clock, config.http.session_hours * 3600)
        setup = SiteSetup(conn, clock, accounts, AuditLog(conn, clock))
        if not setup.needed():
            sys.stderr.write("this site has a staff account already: no setup code is needed\n")
            return int(ExitCode.USAGE)
        http = config.http
        scheme = "https" if http.certfile else "http"
        announce(setup.issue(), f"{scheme}://{http.host}:{http.port}", str(args.config))
        return int(ExitCode.OK)
    finally:
        conn.close()


def _add_account(args: argparse.Namespace) -> None:
    config = load_site_config(args.config)
    password = sys.stdin.readline().rstrip("\n")
    hashed = prepare_password(args.username, password)

    conn = open_site_database(config.data_dir)
    try:
        clock = SystemClock()
        accounts = SiteAccounts(conn, clock, config.http.session_hours * 3600)
        account = create_account(
            accounts, AuditLog(conn, clock), args.username, SiteRole(args.role), hashed, by=None
        )
        sys.stdout.write(f"account {account.username} ({account.role}) created: {account.id}\n")
    finally:
        conn.close()


def _verify_audit(args: argparse.Namespace) -> int:
    config = load_site_config(args.config)
    open_site_database(config.data_dir).close()  # an error if it cannot be opened; migrated
    result = verify_site_log(config.data_dir)
    if result.ok:
        sys.stdout.write(f"site audit log OK: {result.records} records\n")
        return int(ExitCode.OK)
    sys.stdout.write(
        f"site audit log BROKEN: {len(result.problems)} problems in {result.records} records\n"
    )
    for problem in result.problems:
        sys.stdout.write(f"  {problem}\n")
    return int(ExitCode.TAMPERED)


def _export_audit(args: argparse.Namespace) -> int:
    config = load_site_config(args.config)
    open_site_database(config.data_dir).close()  # an error if it cannot be opened; migrated
    if args.output is None:
        count = export_site_log(config.data_dir, sys.stdout)
    else:
        with args.output.open("w", encoding="utf-8") as out:
            count = export_site_log(config.data_dir, out)
    sys.stderr.write(f"{count} records exported\n")
    return int(ExitCode.OK)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camera-site", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the site server")
    run.add_argument("--config", type=Path, required=True)
    add = commands.add_parser("add-account", help="add an account (password on stdin)")
    add.add_argument("--config", type=Path, required=True)
    add.add_argument("--username", required=True)
    add.add_argument("--role", choices=[r.value for r in SiteRole], default=SiteRole.STAFF.value)
    check = commands.add_parser(
        "verify-audit",
        help=f"check the site's audit log; exit {int(ExitCode.TAMPERED)} when its chain is broken",
    )
    check.add_argument("--config", type=Path, required=True)
    code = commands.add_parser(
        "new-setup-code", help="show a new one-time code for the first staff account"
    )
    code.add_argument("--config", type=Path, required=True)
    dump = commands.add_parser(
        "export-audit", help="write the site's audit log as JSON Lines, oldest first"
    )
    dump.add_argument("--config", type=Path, required=True)
    dump.add_argument("--output", type=Path, help="a file instead of standard output")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "run":
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_run(args.config))
        elif args.command == "verify-audit":
            return _verify_audit(args)
        elif args.command == "export-audit":
            return _export_audit(args)
        elif args.command == "new-setup-code":
            return _new_setup_code(args)
        else:
            _add_account(args)
    except AppError as err:
        sys.stderr.write(err.report())
        return int(err.exit_code)
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
