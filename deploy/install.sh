#!/usr/bin/env bash
# Install camera-app as a hardened systemd service on Raspberry Pi OS / Debian.
#
#   sudo deploy/install.sh [--source DIR] [--no-apt] [--no-start] [--python /usr/bin/python3]
#   deploy/install.sh --prefix DIR [--deps-from VENV] [--models-from DIR]
#
# What it does (docs/deploy.md has the details):
#   1. Debian packages (deploy/sysdeps.sh; on a Raspberry Pi also python3-picamera2, python3-lgpio)
#   2. the system user camera-app (no login, home /var/lib/camera-app, groups video and gpio)
#   3. /opt/camera-app/venv with the app pip-installed from the source tree
#   4. the face models in /opt/camera-app/models, checked against the pinned sha256
#   5. the launcher /opt/camera-app/bin/camera-app-launch, the units in /etc/systemd/system,
#      /etc/camera-app/config.yaml (an existing one is never overwritten), /var/lib/camera-app
#      and, inside it, update/ (root's: only camera-app-update-apply writes the update slots)
#   6. systemctl enable + (re)start, then a one-time setup code for the owner account
# Running it again upgrades the app in place and keeps the config and the data.
#
# --prefix DIR installs into a throwaway root (for tests and packaging): every path is put under
# DIR, while the files keep naming the real paths (/opt/camera-app/…), as a package would. No
# apt, no user, no chown, no systemctl. --deps-from VENV (only with --prefix) reuses the Python
# packages of an existing venv of the same Python version instead of installing them again (the
# app itself is still built and pip-installed from the source); --models-from DIR copies the model files from
# DIR (another device, a USB stick) instead of downloading them; both are still verified.
set -euo pipefail

readonly SERVICE_USER=camera-app
readonly APP_DIR=/opt/camera-app
readonly CONF_DIR=/etc/camera-app
readonly DATA_DIR=/var/lib/camera-app
readonly RUN_DIR=/run/camera-app
readonly UNIT_DIR=/etc/systemd/system
readonly UNITS=(camera-app.service camera-app-update.service camera-app-update.timer
                camera-app-update-apply.service)
readonly DEVICE_GROUPS=(video gpio)

usage() {
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
    echo "see the comment at the top of $0 and docs/deploy.md"
}

die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

step() {
    printf '==> %s\n' "$*"
}

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=""
apt=1
start=1
# Debian's interpreter: the venv links to it, and the service user must be able to run it (a
# python3 found first on root's PATH, e.g. under /root/.pyenv, would not be).
python=/usr/bin/python3
[ -x "$python" ] || python=python3
deps_from=""
models_from=""

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
        --source) source_dir=${2:?--source needs a directory}; shift 2 ;;
        --python) python=${2:?--python needs an interpreter}; shift 2 ;;
        --deps-from) deps_from=${2:?--deps-from needs a venv}; shift 2 ;;
        --models-from) models_from=${2:?--models-from needs a directory}; shift 2 ;;
        --no-apt) apt=0; shift ;;
        --no-start) start=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

source_dir=$(cd "$source_dir" && pwd) || die "no source directory $source_dir"
if [ ! -f "$source_dir/setup.cfg" ] || [ ! -d "$source_dir/camera_app" ]; then
    die "$source_dir is not a camera-app source tree (no setup.cfg / camera_app/)"
fi

if [ -n "$prefix" ]; then
    mkdir -p "$prefix"
    prefix=$(cd "$prefix" && pwd)
    [ "$prefix" != / ] || die "--prefix / is the real system: run without --prefix (as root)"
    apt=0
    start=0
else
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0), or install into a throwaway root with --prefix DIR"
    [ -z "$deps_from" ] || die "--deps-from is for --prefix installs (tests, packaging) only"
fi

# The path of a target file inside the root being installed into.
at() {
    printf '%s%s' "$prefix" "$1"
}

venv=$(at "$APP_DIR/venv")
readonly venv

install_packages() {
    if [ "$apt" -eq 0 ]; then
        step "Debian packages: skipped (--no-apt or --prefix)"
        return
    fi
    step "Debian packages"
    bash "$source_dir/deploy/sysdeps.sh"
    # On a Raspberry Pi, picamera2/libcamera and the LED's GPIO library come from Raspberry Pi OS,
    # not from PyPI; the venv sees them through --system-site-packages.
    if [ -r /proc/device-tree/model ] && tr -d '\0' </proc/device-tree/model | grep -q "Raspberry Pi"
    then
        local pi_packages=(python3-picamera2 python3-lgpio) missing=() pkg
        for pkg in "${pi_packages[@]}"; do
            dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
                || missing+=("$pkg")
        done
        if [ "${#missing[@]}" -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${missing[@]}" >/dev/null
        fi
    fi
}

create_user() {
    if [ -n "$prefix" ]; then
        step "system user $SERVICE_USER: skipped (--prefix)"
        return
    fi
    step "system user $SERVICE_USER"
    local group
    for group in "${DEVICE_GROUPS[@]}"; do
        # The unit's SupplementaryGroups= needs both to exist; plain Debian has no gpio group.
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    if ! getent passwd "$SERVICE_USER" >/dev/null; then
        useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "camera-app service" "$SERVICE_USER"
    fi
    usermod --append --groups "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$SERVICE_USER"
}

make_dirs() {
    install -d -m 0755 "$(at "$APP_DIR")" "$(at "$APP_DIR/bin")" "$(at "$APP_DIR/models")" \
        "$(at "$APP_DIR/share/doc")" "$(at "$UNIT_DIR")"
    install -d -m 0750 "$(at "$CONF_DIR")" "$(at "$DATA_DIR")"
    if [ -z "$prefix" ]; then
        chown root:"$SERVICE_USER" "$CONF_DIR"
        chown "$SERVICE_USER:$SERVICE_USER" "$DATA_DIR"
    fi
    # The update slots hold the code and models the service runs: root's, readable by the
    # service's group (the units also mount it read-only for the service). Slots from before,
    # which the service user could write, are set aside, not trusted: this install's release
    # runs until the next update.
    local update
    update=$(at "$DATA_DIR/update")
    if [ -z "$prefix" ] && [ -e "$update" ] && [ "$(stat -c %u "$update")" != 0 ]; then
        local aside
        aside="$update.unsealed-$(date +%Y%m%d%H%M%S)"
        mv "$update" "$aside"
        echo "    set aside $aside (update slots the service user could write; delete it when done)"
    fi
    # setgid: what root writes inside (by hand too: `update rollback`) keeps the service's group
    if [ -n "$prefix" ]; then
        install -d -m 2750 "$update"
    else
        install -d -o root -g "$SERVICE_USER" -m 2750 "$update"
    fi
}

site_packages() {
    "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
}

install_app() {
    step "Python environment $venv"
    if [ ! -x "$venv/bin/python" ]; then
        # --system-site-packages: picamera2 and lgpio are Debian packages on Raspberry Pi OS.
        "$python" -m venv --system-site-packages "$venv"
    fi
    # Build from a copy of the package sources, so the source tree is never written to.
    local stage
    stage=$(mktemp -d)
    # shellcheck disable=SC2064  # expand now: the trap must remove this very directory
    trap "rm -rf '$stage'" EXIT
    local parts=(firmware camera_app privacy streaming) part
    for part in setup.cfg pyproject.toml setup.py MANIFEST.in README.md LICENSE; do
        [ ! -e "$source_dir/$part" ] || parts+=("$part")
    done
    tar -C "$source_dir" --exclude=__pycache__ -cf - "${parts[@]}" | tar -C "$stage" -xf -
    local pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
    if [ -n "$deps_from" ]; then
        [ -x "$deps_from/bin/python" ] || die "--deps-from $deps_from is not a venv"
        local want have
        want=$("$venv/bin/python" -c 'import sys; print(sys.version_info[:2])')
        have=$("$deps_from/bin/python" -c 'import sys; print(sys.version_info[:2])')
        [ "$want" = "$have" ] || die "--deps-from $deps_from is Python $have, not $want"
        site_packages "$deps_from" >"$(site_packages "$venv")/camera-app-deps.pth"
        # Only the app is built and installed (its build backend comes from the package index,
        # as in a normal install); its dependencies are those of $deps_from.
        "${pip[@]}" --no-deps "$stage"
    else
        # pip always reinstalls from a source directory (same version or not); dependencies are
        # upgraded only where the new requirements ask for it.
        "${pip[@]}" --upgrade "$stage"
    fi
    "$venv/bin/camera-app" --help >/dev/null
}

install_models() {
    local models
    models=$(at "$APP_DIR/models")
    step "face models $models"
    if [ -n "$models_from" ]; then
        local file
        for file in "$models_from"/*; do
            if [ -f "$file" ] && [ "${file##*/}" != provenance.json ]; then
                install -m 0644 "$file" "$models/"
            fi
        done
    fi
    # Keeps files whose sha256 matches the manifest, fetches (and checks) the others.
    "$venv/bin/python" -m privacy.models.provision --dest "$models" --quiet
}

install_files() {
    step "launcher, units, config"
    install -m 0755 "$source_dir/deploy/systemd/camera-app-launch" \
        "$(at "$APP_DIR/bin/camera-app-launch")"
    install -m 0644 "$source_dir/docs/deploy.md" "$(at "$APP_DIR/share/doc/deploy.md")"
    install -m 0644 "$source_dir/docs/remote-access.md" "$(at "$APP_DIR/share/doc/remote-access.md")"
    local unit
    for unit in "${UNITS[@]}"; do
        install -m 0644 "$source_dir/deploy/systemd/$unit" "$(at "$UNIT_DIR/$unit")"
    done
    local config
    config=$(at "$CONF_DIR/config.yaml")
    if [ -e "$config" ]; then
        echo "    keeping the existing $CONF_DIR/config.yaml"
    else
        install -m 0640 "$source_dir/deploy/device.yaml" "$config"
        [ -n "$prefix" ] || chown root:"$SERVICE_USER" "$config"
        echo "    wrote $CONF_DIR/config.yaml (edit it, then: systemctl restart camera-app)"
    fi
    "$venv/bin/camera-app" check-config "$config" >/dev/null \
        || die "the config is not valid (the error above names the file); fix it and run the installer again"
    # status.json is rewritten every second: keep it in RAM (RuntimeDirectory=camera-app), not
    # on the SD card. A leftover real directory (from a run by hand) only held a status file.
    local run
    run=$(at "$DATA_DIR/run")
    if [ -d "$run" ] && [ ! -L "$run" ]; then
        rm -rf "$run"
    fi
    ln -sfn "$RUN_DIR" "$run"
    [ -n "$prefix" ] || chown -h "$SERVICE_USER:$SERVICE_USER" "$run"
}

# Sets started=1 once the service runs (a restart, when upgrading a running one).
start_service() {
    if [ -n "$prefix" ]; then
        step "systemd: skipped (--prefix)"
        return
    fi
    if [ ! -d /run/systemd/system ]; then
        step "systemd is not running here (a container or a chroot?): units installed, not started"
        return
    fi
    step "systemd"
    systemctl daemon-reload
    systemctl enable camera-app.service camera-app-update.timer
    if [ "$start" -eq 0 ]; then
        echo "    enabled, not started (--no-start): systemctl start camera-app camera-app-update.timer"
        return
    fi
    systemctl start camera-app-update.timer
    # Type=notify: this returns once the service reports READY=1 (its first frame), or fails.
    if ! systemctl restart camera-app.service; then
        systemctl --no-pager status camera-app.service || true
        die "camera-app did not start; see: journalctl -u camera-app"
    fi
    started=1
}

show_setup_code() {
    local launch="$APP_DIR/bin/camera-app-launch"
    local as_user="runuser -u $SERVICE_USER -- $launch"
    if [ "$started" -eq 1 ]; then
        # The service showed a code at first start (in the journal); this one replaces it, so the
        # code printed here is the one that works. Run as the service user: the database and its
        # WAL files must stay owned by it.
        if runuser -u "$SERVICE_USER" -- "$launch" owner new-code --config "$CONF_DIR/config.yaml"; then
            echo "Create the owner account with that code:"
            echo "    $as_user owner setup --config $CONF_DIR/config.yaml"
            echo "or through the owner API (docs/api.md)."
        else
            echo "No new setup code (an owner account exists already, or see the message above)."
        fi
    else
        echo "First start: the service shows a one-time setup code for the owner account in its log:"
        echo "    journalctl -u camera-app | grep -A2 'setup code'"
        echo "A new one, while no owner exists:"
        echo "    $as_user owner new-code --config $CONF_DIR/config.yaml"
    fi
}

install_packages
create_user
make_dirs
install_app
install_models
install_files
started=0
start_service

echo
echo "camera-app is installed${prefix:+ under $prefix}:"
echo "    code    $APP_DIR (venv, models, bin/camera-app-launch)"
echo "    config  $CONF_DIR/config.yaml"
echo "    data    $DATA_DIR (recordings, database, device keys; update/ is root's)"
echo "    units   $UNIT_DIR/{$(IFS=,; echo "${UNITS[*]}")}"
echo "    logs    journalctl -u camera-app"
echo
if [ -z "$prefix" ]; then
    show_setup_code
fi
