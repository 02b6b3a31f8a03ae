#!/usr/bin/env bash
# Installs the Debian/Raspberry Pi OS packages camera-app needs (idempotent; apt only as root).
# `sysdeps.sh --test` adds what only the test suite needs.
#   libgl1, libglib2.0-0: shared libraries the OpenCV wheel links against
#   fonts-wqy-microhei:   the CJK font embedded in the merchant notice PDF (zh-CN)
#   poppler-utils:        pdftoppm/pdftotext, to preview the notice PDF (and for its tests)
#   python3-venv:         to create the virtual environment on a bare Debian
# and for the tests:
#   caddy:                the relay's TLS proxy for remote access (deploy/remote/relay/Caddyfile)
#   chromium:             the browser the viewer page is tested in (driven by Playwright)
#   janus:                the WebRTC relay the device publishes to over WHIP (deploy/janus)
#   mosquitto:            the MQTT broker, started by the tests with deploy/mosquitto's config
#   openssh-server:       sshd, the relay's end of the remote-access tunnel (deploy/remote)
#   openssl:              deploy/mosquitto/make-certs.sh makes the test PKI with it
#   shellcheck:           lints the deploy shell scripts (test_deploy_install)
#   systemd:              systemd-analyze, to verify the units in deploy/systemd
set -euo pipefail

packages=(libgl1 libglib2.0-0 fonts-wqy-microhei poppler-utils)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
[ "${1:-}" = "--test" ] && packages+=(caddy chromium janus mosquitto openssh-server openssl shellcheck systemd)

missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "camera-app needs these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The tests need only these packages' programs: the daemons their packages start (sshd on port
# 22, Caddy on port 80) must not stay running on a developer's machine because of the tests.
for pkg in "${missing[@]}"; do
    case "$pkg" in
        openssh-server) unit=ssh.service ;;
        caddy) unit=caddy.service ;;
        *) continue ;;
    esac
    if [ -d /run/systemd/system ]; then
        systemctl disable --now "$unit" >/dev/null 2>&1 || true
    fi
done
