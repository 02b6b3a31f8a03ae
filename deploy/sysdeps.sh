#!/usr/bin/env bash
# Installs the Debian/Raspberry Pi OS packages camera-app needs (idempotent; apt only as root).
# `sysdeps.sh --test` adds what only the test suite needs.
#   libgl1, libglib2.0-0: shared libraries the OpenCV wheel links against
#   fonts-wqy-microhei:   the CJK font embedded in the merchant notice PDF (zh-CN)
#   poppler-utils:        pdftoppm/pdftotext, to preview the notice PDF (and for its tests)
#   python3-venv:         to create the virtual environment on a bare Debian
# and for the tests:
#   chromium:             the browser the viewer page is tested in (driven by Playwright)
#   janus:                the WebRTC relay the device publishes to over WHIP (deploy/janus)
#   mosquitto:            the MQTT broker, started by the tests with deploy/mosquitto's config
#   openssl:              deploy/mosquitto/make-certs.sh makes the test PKI with it
#   systemd:              systemd-analyze, to verify the units in deploy/systemd
set -euo pipefail

packages=(libgl1 libglib2.0-0 fonts-wqy-microhei poppler-utils)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3-venv)
[ "${1:-}" = "--test" ] && packages+=(chromium janus mosquitto openssl systemd)

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
