#!/usr/bin/env bash
# Remove camera-app installed by deploy/install.sh.
#
#   sudo deploy/uninstall.sh [--purge]
#   deploy/uninstall.sh --prefix DIR [--purge]      (a throwaway root made with install.sh --prefix)
#
# Stops and disables the units, removes them and /opt/camera-app. Keeps the recordings, the
# database and the device keys (/var/lib/camera-app) and the config (/etc/camera-app) unless
# --purge is given; --purge also deletes the camera-app user. The video and gpio groups stay
# (other software uses them).
set -euo pipefail

readonly SERVICE_USER=camera-app
readonly APP_DIR=/opt/camera-app
readonly CONF_DIR=/etc/camera-app
readonly DATA_DIR=/var/lib/camera-app
readonly RUN_DIR=/run/camera-app
readonly UNIT_DIR=/etc/systemd/system
readonly UNITS=(camera-app.service camera-app-update.service camera-app-update.timer
                camera-app-update-apply.service)

die() {
    printf 'uninstall.sh: error: %s\n' "$*" >&2
    exit 1
}

prefix=""
purge=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --purge) purge=1; shift ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

if [ -n "$prefix" ]; then
    [ -d "$prefix" ] || die "no directory $prefix"
    prefix=$(cd "$prefix" && pwd)
    [ "$prefix" != / ] || die "--prefix / is the real system: run without --prefix (as root)"
else
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0), or give --prefix DIR"
fi

at() {
    printf '%s%s' "$prefix" "$1"
}

if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
    echo "==> stopping and disabling the units"
    systemctl disable --now camera-app-update.timer camera-app.service 2>/dev/null || true
    systemctl stop camera-app-update.service camera-app-update-apply.service 2>/dev/null || true
fi

echo "==> removing the units and $APP_DIR"
for unit in "${UNITS[@]}"; do
    rm -f "$(at "$UNIT_DIR/$unit")"
done
if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl reset-failed camera-app.service camera-app-update.service \
        camera-app-update-apply.service 2>/dev/null || true
fi
rm -rf "$(at "$APP_DIR")"

if [ "$purge" -eq 1 ]; then
    echo "==> --purge: deleting recordings, database, device keys and config"
    rm -rf "$(at "$DATA_DIR")" "$(at "$CONF_DIR")" "$(at "$RUN_DIR")"
    if [ -z "$prefix" ] && getent passwd "$SERVICE_USER" >/dev/null; then
        userdel "$SERVICE_USER"
        echo "    deleted the user $SERVICE_USER"
    fi
    echo "camera-app is removed completely."
else
    echo "camera-app is removed. Kept (delete them with --purge):"
    [ -e "$(at "$DATA_DIR")" ] && echo "    $DATA_DIR  recordings, event database, device keys"
    [ -e "$(at "$CONF_DIR")" ] && echo "    $CONF_DIR  configuration"
    if [ -z "$prefix" ] && getent passwd "$SERVICE_USER" >/dev/null; then
        echo "    the user $SERVICE_USER (owns $DATA_DIR)"
    fi
fi
