"""The ``camera-app`` command line."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from camera_app.config import AppConfig, load_config, load_service_config, override_api_address
from camera_app.config.owner_masks import ServiceConfig
from firmware.clock import SystemClock
from firmware.db import DatabaseError, open_database
from firmware.errors import AppError, ExitCode

log = logging.getLogger("camera_app")

#: ``audit verify`` ends with this when the log was altered: a finding, not an exception
EXIT_TAMPERED = ExitCode.TAMPERED

EXIT_CODES = "exit codes:\n" + "".join(f"  {code.value}  {code.meaning}\n" for code in ExitCode)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def _load(path: str | None) -> AppConfig:
    return load_config(Path(path) if path else None)


def _owner_masks_note(loaded: ServiceConfig) -> str | None:
    """What the owner's saved masks do to the config file's, in one line; None without them."""
    if loaded.owner_masks is None and not loaded.camera_masks:
        return None
    replaced = loaded.replaced()
    where = f"masks saved in the owner app ({loaded.owner_masks_path})"
    if not replaced:
        return f"{where}: the same as the config file's"
    return f"{where} replace the config file's {', '.join(replaced)}"


def _cmd_run(args: argparse.Namespace) -> int:
    from camera_app.service import run_service
    from firmware.heap import map_large_buffers

    map_large_buffers()  # before the service starts its threads

    loaded = load_service_config(Path(args.config) if args.config else None)
    config = loaded.config
    if args.host is not None or args.port is not None:
        config = override_api_address(config, host=args.host, port=args.port)
    _setup_logging(args.log_level or config.logging.level)
    if note := _owner_masks_note(loaded):
        log.info("%s", note)
    return run_service(
        config,
        source=args.source,
        duration=args.duration,
        clock=SystemClock(),
        config_file=Path(args.config) if args.config else None,
    )


def _cmd_check_config(args: argparse.Namespace) -> int:
    """The file as ``run`` loads it: the owner's saved masks (in its data directory) over it."""
    loaded = load_service_config(Path(args.file))
    sys.stdout.write(f"{args.file}: OK\n")
    if note := _owner_masks_note(loaded):
        sys.stdout.write(note + "\n")
    return ExitCode.OK


def _open_db(args: argparse.Namespace):
    from firmware.paths import StoragePaths

    config = _load(args.config)
    db = StoragePaths(config.storage.data_dir).database
    if not db.exists():
        raise DatabaseError(f"no database at {db} (has 'camera-app run' been started?)")
    return open_database(db)


def _cmd_events_list(args: argparse.Namespace) -> int:
    from camera_app.monitor.store import EventStore

    conn = _open_db(args)
    try:
        events = EventStore(conn).recent(limit=args.limit)
    finally:
        conn.close()
    if args.json:
        json.dump([e.to_json() for e in events], sys.stdout, indent=2)
        sys.stdout.write("\n")
        return ExitCode.OK
    if not events:
        sys.stdout.write("no events\n")
        return ExitCode.OK
    sys.stdout.write(f"{'event':<24} {'started (UTC)':<20} {'length':>7} {'status':<11} clip\n")
    for e in events:
        started = datetime.fromtimestamp(e.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        length = f"{e.clip_duration_s:.1f}s" if e.clip_duration_s is not None else "-"
        clip = e.clip_path or (e.note or "no clip")
        sys.stdout.write(f"{e.id:<24} {started:<20} {length:>7} {e.status:<11} {clip}\n")
    return ExitCode.OK


def _cmd_owner_setup(args: argparse.Namespace) -> int:
    from camera_app.accounts import create_owner

    conn = _open_db(args)
    try:
        code = args.code or getpass.getpass("Setup code: ")
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("New owner password: ")
            if getpass.getpass("Repeat password: ") != password:
                sys.stderr.write("error: passwords differ\n")
                return ExitCode.USAGE
        create_owner(conn, SystemClock(), code, args.username, password)
    finally:
        conn.close()
    sys.stdout.write(f"owner account '{args.username}' created\n")
    return ExitCode.OK


def _cmd_owner_new_code(args: argparse.Namespace) -> int:
    from camera_app.accounts import SetupHint, announce_setup_code, has_owner, issue_setup_code

    config = _load(args.config)
    api = config.api
    # the address the service listens on by its config (a port of 0 is only known to it)
    listen = None
    if api.enabled and api.port:
        listen = f"{'https' if api.tls else 'http'}://{api.host}:{api.port}"
    hint = SetupHint.of_this_process(Path(args.config) if args.config else None, listen)
    conn = _open_db(args)
    try:
        if has_owner(conn):
            sys.stderr.write("error: an owner account already exists\n")
            return ExitCode.USAGE
        announce_setup_code(issue_setup_code(conn, SystemClock()), hint)
    finally:
        conn.close()
    return ExitCode.OK


def _cmd_unlock_logins(args: argparse.Namespace) -> int:
    """Lift login locks on this device, with the service running or not (see LoginUnlocks)."""
    from camera_app.accounts import username_taken
    from camera_app.logins import unlock_logins

    conn = _open_db(args)
    try:
        if args.username is not None and not username_taken(conn, args.username):
            sys.stderr.write(f"error: no account named {args.username!r} on this device\n")
            return ExitCode.USAGE
        unlock_logins(conn, SystemClock(), args.username)
    finally:
        conn.close()
    if args.username is None:
        sys.stdout.write("every login lock lifted (accounts and addresses)\n")
    else:
        sys.stdout.write(f"login locks of '{args.username}' lifted\n")
    return ExitCode.OK


def _cmd_relay_key(args: argparse.Namespace) -> int:
    """Print the public key of this device's relay tickets (made on first use), for the relay's
    ``--ticket-key-file``; the private key stays in the data directory (0600)."""
    from camera_app.live.subsystem import device_id
    from camera_app.live.tickets import KEY_FILE, key_id, load_ticket_key, public_key_pem
    from firmware.paths import StoragePaths

    config = _load(args.config)
    key = load_ticket_key(StoragePaths(config.storage.data_dir).secrets / KEY_FILE)
    kid = key_id(key.public_key())
    sys.stderr.write(
        f"relay ticket key {kid} of device {device_id(config, kid)}: install the key below on "
        "the relay as a file given to whip_frontend.py --ticket-key-file\n"
    )
    sys.stdout.write(public_key_pem(key))
    return ExitCode.OK


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from privacy.audit import verify

    conn = _open_db(args)
    try:
        result = verify(conn)
    finally:
        conn.close()
    if result.ok:
        sys.stdout.write(f"audit log OK: {result.records} records\n")
        return ExitCode.OK
    sys.stdout.write(
        f"audit log TAMPERED: {len(result.problems)} problems in {result.records} records\n"
    )
    for problem in result.problems:
        sys.stdout.write(f"  {problem}\n")
    return EXIT_TAMPERED


def _cmd_audit_export(args: argparse.Namespace) -> int:
    from privacy.audit import export

    conn = _open_db(args)
    try:
        if not args.output:
            export(conn, sys.stdout)
            return ExitCode.OK
        # The export names people and what they did: readable by the owner only.
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            count = export(conn, out)
    finally:
        conn.close()
    sys.stderr.write(f"{count} audit records written to {args.output}\n")
    return ExitCode.OK


def _cmd_mqtt_decommission(args: argparse.Namespace) -> int:
    """Remove the device from Home Assistant and clear its retained topics on the broker."""
    from camera_app.mqtt.bridge import MqttBridge
    from camera_app.mqtt.outbox import Outbox
    from camera_app.mqtt.topics import Topics

    config = _load(args.config)
    cfg = config.mqtt
    if not cfg.enabled:
        sys.stderr.write("error: mqtt is not enabled in the config\n")
        return ExitCode.USAGE
    topics = Topics(cfg.prefix, cfg.device_id or config.first_camera().id, cfg.discovery_prefix)
    conn = _open_db(args)
    bridge = MqttBridge(
        cfg,
        topics,
        config.first_camera().name,
        Outbox(conn, cfg.outbox_max_events),
        SystemClock(),
        lambda _command: None,
    )
    try:
        bridge.start()
        done = bridge.decommission(timeout=args.timeout)
    finally:
        bridge.stop()
        conn.close()
    if not done:
        sys.stderr.write(f"error: could not reach the broker at {cfg.host}:{cfg.port}\n")
        return ExitCode.RUNTIME
    sys.stdout.write(f"device {topics.device_id} removed from {cfg.discovery_prefix}\n")
    return ExitCode.OK


def _cmd_redact(args: argparse.Namespace) -> int:
    from privacy.build import build_stage
    from privacy.offline import redact_media, write_report

    config = _load(args.config)
    _setup_logging(config.logging.level)
    stage = build_stage(config.privacy, offline=True)
    try:
        result = redact_media(stage, Path(args.input), Path(args.output), progress=not args.quiet)
    finally:
        stage.close()
    if args.report:
        write_report(Path(args.report), result.report)
    sys.stderr.write(
        f"{result.frames} frames: {result.frames - result.withheld} streamed, "
        f"{result.withheld} withheld; {result.report['fps']:.1f} fps\n"
    )
    return ExitCode.OK


def _cmd_privacy_bench(args: argparse.Namespace) -> int:
    from privacy.bench import format_table, run_bench
    from privacy.build import build_stage

    config = _load(args.config)
    _setup_logging(config.logging.level)
    keep = Path(args.keep) if args.keep else None
    result = run_bench(
        Path(args.data), lambda: build_stage(config.privacy, offline=True), keep=keep
    )
    if args.json:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(result) + "\n")
    return ExitCode.OK


def _cmd_selftest(args: argparse.Namespace) -> int:
    """The privacy stage on a known face; the update health check runs it in a new release."""
    from privacy.selftest import run_selftest

    config = _load(args.config)
    _setup_logging("WARNING")
    result = run_selftest(config.privacy, Path(args.models) if args.models else None)
    if result.passed:
        sys.stdout.write(
            f"selftest passed: {result.frames} frames, {result.streamed} streamed, the face "
            f"redacted ({result.seconds:.1f} s; models: {', '.join(result.models)})\n"
        )
        return ExitCode.OK
    sys.stdout.write(f"selftest FAILED: {result.reason}\n")
    return ExitCode.RUNTIME


def _update_run(args: argparse.Namespace, action: str) -> int:
    """Runs one ``camera-app update`` action with the audit log of the device database."""
    from camera_app.update import DeviceUpdater, audit_to
    from firmware.paths import StoragePaths
    from privacy.audit import AuditLog

    config = _load(args.config)
    _setup_logging(config.logging.level)
    if action == "check" and config.update.repository_url is None:
        # the update timer runs on every device; one without a repository is not failing
        sys.stdout.write("updates are off (update.repository_url is not set)\n")
        return ExitCode.OK
    clock = SystemClock()
    paths = StoragePaths(config.storage.data_dir)
    paths.create()
    conn = open_database(paths.database)
    updater = DeviceUpdater(
        config.update,
        config.storage.data_dir,
        clock=clock,
        audit=audit_to(AuditLog(conn, clock)),
        config_file=Path(args.config).resolve() if args.config else None,
        staged=args.staged,
    )
    try:
        if action == "check":
            found = updater.check()
            sys.stdout.write(found.message + "\n")
            for version in found.announced:
                sys.stdout.write(f"announced: release {version} changes behaviour\n")
            return ExitCode.OK
        if action == "apply":
            result = updater.apply(retry=args.retry)
        elif action == "rollback":
            result = updater.rollback()
        else:
            result = updater.resume()
    finally:
        conn.close()
    sys.stdout.write(result.message + "\n")
    if result.result == "rolled_back" and action != "rollback":
        return ExitCode.RUNTIME
    return ExitCode.OK


def _cmd_update_status(args: argparse.Namespace) -> int:
    from camera_app.update import load_update_status

    config = _load(args.config)
    status = load_update_status(config.storage.data_dir)
    if args.json:
        json.dump(status.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return ExitCode.OK
    slot = f"slot {status.current_slot}" if status.current_slot else "base install"
    lines = [f"running: {status.current_version} ({slot}); phase: {status.phase}"]
    for name, model in status.current_models.items():
        lines.append(f"  model {name}: {model.version} sha256:{model.sha256[:12]}")
    if status.previous_version:
        lines.append(f"rollback goes to: {status.previous_version}")
    if status.pending:
        p = status.pending
        lines.append(
            f"pending: {p.version} changes {', '.join(p.changes_behaviour)}; may be activated "
            f"from {p.not_before.isoformat()} (announced {p.announced_at.isoformat()})"
        )
    if status.last_result:
        r = status.last_result
        why = f": {r.reason}" if r.reason else ""
        lines.append(f"last result: {r.result} {r.version or ''} at {r.at.isoformat()}{why}")
    if status.error:
        lines.append(f"error: {status.error}")
    sys.stdout.write("\n".join(lines) + "\n")
    return ExitCode.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="camera-app",
        description="Privacy-first smart camera (monitoring by default).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the camera service")
    run.add_argument("--config", help="YAML config file (defaults apply without one)")
    run.add_argument(
        "--source",
        help="override capture.source: auto, picamera2, v4l2:DEV, file:PATH, rtsp://…, test:",
    )
    run.add_argument(
        "--port",
        type=int,
        help="listen on this TCP port for the owner API and web app (overrides api.port; "
        "0: any free port)",
    )
    run.add_argument(
        "--host",
        help="listen on this address (overrides api.host; plain HTTP only on a loopback address)",
    )
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    run.set_defaults(func=_cmd_run)

    check = sub.add_parser("check-config", help="validate a config file")
    check.add_argument("file")
    check.set_defaults(func=_cmd_check_config)

    redact = sub.add_parser(
        "redact", help="run the privacy stage offline on an image, image folder or video"
    )
    redact.add_argument("--input", required=True, help="image, folder of images, or video")
    redact.add_argument("--output", required=True, help="same kind as the input")
    redact.add_argument("--report", help="write the per-frame JSON report here")
    redact.add_argument("--config", help="YAML config (its privacy: section applies)")
    redact.add_argument("--quiet", action="store_true", help="no progress bar")
    redact.set_defaults(func=_cmd_redact)

    bench = sub.add_parser(
        "privacy-bench", help="redact an annotated face set and count leaked faces on pixels"
    )
    bench.add_argument("--data", required=True, help="folder of clips with annotation JSONs")
    bench.add_argument("--json", action="store_true", help="full JSON result")
    bench.add_argument("--config", help="YAML config (its privacy: section applies)")
    bench.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the redacted media and reports in DIR, with judge-manifest.json for "
        "../shared/tools/score_redaction.py --manifest",
    )
    bench.set_defaults(func=_cmd_privacy_bench)

    events = sub.add_parser("events", help="motion events")
    events_sub = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    listing = events_sub.add_parser("list", help="list recent events, newest first")
    listing.add_argument("--config")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(func=_cmd_events_list)

    owner = sub.add_parser("owner", help="owner account")
    owner_sub = owner.add_subparsers(dest="owner_command", required=True, metavar="ACTION")
    setup = owner_sub.add_parser("setup", help="create the owner with the one-time setup code")
    setup.add_argument("--config")
    setup.add_argument("--username", default="owner")
    setup.add_argument("--code", help="setup code (asked for when omitted)")
    setup.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    setup.set_defaults(func=_cmd_owner_setup)
    new_code = owner_sub.add_parser(
        "new-code", help="issue a new setup code (only while no owner exists)"
    )
    new_code.add_argument("--config")
    new_code.set_defaults(func=_cmd_owner_new_code)

    unlock = sub.add_parser(
        "unlock-logins",
        help="lift the login locks of an account (or, without one, every lock) at once, on the "
        "running service too",
    )
    unlock.add_argument("username", nargs="?", help="the account (default: every lock)")
    unlock.add_argument("--config")
    unlock.set_defaults(func=_cmd_unlock_logins)

    relay_key = sub.add_parser(
        "relay-key",
        help="print the public key of this device's relay tickets (made on first use), to "
        "install on the relay",
    )
    relay_key.add_argument("--config")
    relay_key.set_defaults(func=_cmd_relay_key)

    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    audit_verify = audit_sub.add_parser(
        "verify", help=f"check the hash chain; exit {EXIT_TAMPERED} if the log was altered"
    )
    audit_verify.add_argument("--config")
    audit_verify.set_defaults(func=_cmd_audit_verify)
    audit_export = audit_sub.add_parser("export", help="write every record as JSON Lines")
    audit_export.add_argument("--config")
    audit_export.add_argument("--output", help="file to write (default: standard output)")
    audit_export.set_defaults(func=_cmd_audit_export)

    mqtt = sub.add_parser("mqtt", help="the MQTT integration")
    mqtt_sub = mqtt.add_subparsers(dest="mqtt_command", required=True, metavar="ACTION")
    decommission = mqtt_sub.add_parser(
        "decommission",
        help="remove this device from Home Assistant and clear its retained topics",
    )
    decommission.add_argument("--config")
    decommission.add_argument("--timeout", type=float, default=10.0, help="seconds to connect")
    decommission.set_defaults(func=_cmd_mqtt_decommission)

    selftest = sub.add_parser(
        "selftest", help="run the privacy stage on a known face and check it is redacted"
    )
    selftest.add_argument("--config", help="YAML config (its privacy: section applies)")
    selftest.add_argument("--models", help="models folder (default: the installed models)")
    selftest.set_defaults(func=_cmd_selftest)

    update = sub.add_parser("update", help="signed software and model updates (A/B, rollback)")
    update_sub = update.add_subparsers(dest="update_command", required=True, metavar="ACTION")
    for action, text in (
        ("check", "look for a new release; announce behaviour changes; stage it for apply"),
        ("apply", "install the newest release, switch to it, keep it only if healthy"),
        ("rollback", "switch back to the previous release"),
        ("resume", "finish (or undo) a switch whose health check was interrupted"),
    ):
        cmd = update_sub.add_parser(action, help=text)
        cmd.add_argument("--config")
        if action == "apply":
            cmd.add_argument(
                "--retry", action="store_true", help="install a release that was rolled back"
            )
            cmd.add_argument(
                "--staged",
                action="store_true",
                help="verify what `update check` staged instead of using the network "
                "(the privileged apply unit)",
            )
        cmd.set_defaults(staged=False)
        cmd.set_defaults(func=lambda args, action=action: _update_run(args, action))
    update_status = update_sub.add_parser("status", help="what runs, what is pending, last result")
    update_status.add_argument("--config")
    update_status.add_argument("--json", action="store_true", help="machine-readable output")
    update_status.set_defaults(func=_cmd_update_status)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AppError as err:
        sys.stderr.write(err.report())
        return err.exit_code
    except OSError as err:  # from the OS anywhere: a data directory that cannot be created, …
        sys.stderr.write(f"error: {err}\n")
        return ExitCode.RUNTIME
    except KeyboardInterrupt:
        return ExitCode.OK


if __name__ == "__main__":
    sys.exit(main())
