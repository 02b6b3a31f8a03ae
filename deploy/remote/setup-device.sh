#!/usr/bin/env bash
# Remote access, the device's half: an outbound SSH tunnel to a relay host (docs/remote-access.md).
#
#   sudo deploy/remote/setup-device.sh --relay HOST --listen-port PORT [--ssh-port 22]
#        [--relay-user camera-tunnel] [--api-port 8443] [--public-name NAME]
#        [--known-hosts FILE] [--no-start] [--prefix DIR]
#
#   1. the system user camera-tunnel (no login shell; it can read nothing of camera-app's)
#   2. /etc/camera-tunnel: the tunnel's own SSH key (made once, kept on re-runs), tunnel.env
#      from the options, and known_hosts: the relay's host key, from --known-hosts FILE (a line
#      the relay printed) or else fetched with ssh-keyscan; compare the fingerprint it prints
#   3. camera-app-tunnel.service in /etc/systemd/system, enabled and started (unless --no-start);
#      it retries every 10 s until the relay accepts the key
#   4. prints what to do on the relay: the line for /etc/ssh/camera-tunnel.keys and the device
#      certificate for /etc/caddy/camera-device.pem (and, with --public-name, the Caddy block)
#
# --prefix DIR writes every file under DIR (for tests): no user, no chown, no systemctl.
set -euo pipefail

readonly TUNNEL_USER=camera-tunnel
readonly CONF_DIR=/etc/camera-tunnel
readonly UNIT_DIR=/etc/systemd/system
readonly UNIT=camera-app-tunnel.service
readonly DEVICE_CERT=/var/lib/camera-app/secrets/device-cert.pem

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
relay="" listen_port="" ssh_port=22 relay_user=camera-tunnel api_port=8443
public_name="" known_hosts_from="" start=1 prefix=""

die() {
    printf 'setup-device.sh: error: %s\n' "$*" >&2
    exit 1
}
usage() {
    sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//'
}
port_ok() {
    [[ "$1" =~ ^[0-9]{1,5}$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

while [ $# -gt 0 ]; do
    case "$1" in
        --relay) relay=${2:?}; shift 2 ;;
        --listen-port) listen_port=${2:?}; shift 2 ;;
        --ssh-port) ssh_port=${2:?}; shift 2 ;;
        --relay-user) relay_user=${2:?}; shift 2 ;;
        --api-port) api_port=${2:?}; shift 2 ;;
        --public-name) public_name=${2:?}; shift 2 ;;
        --known-hosts) known_hosts_from=${2:?}; shift 2 ;;
        --no-start) start=0; shift ;;
        --prefix) prefix=${2:?}; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
done

# Checked before anything is written: a bad value would only show up as a unit that never connects.
[ -n "$relay" ] || die "--relay HOST is required (the relay host's DNS name or address)"
[[ "$relay" =~ ^[A-Za-z0-9.:-]+$ ]] || die "--relay: '$relay' is not a host name or address"
[ -n "$listen_port" ] || die "--listen-port PORT is required (this device's port on the relay's loopback)"
port_ok "$listen_port" || die "--listen-port: '$listen_port' is not a port (1-65535)"
port_ok "$ssh_port" || die "--ssh-port: '$ssh_port' is not a port (1-65535)"
port_ok "$api_port" || die "--api-port: '$api_port' is not a port (1-65535)"
[[ "$relay_user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--relay-user: '$relay_user' is not a user name"
[ -z "$public_name" ] || [[ "$public_name" =~ ^[A-Za-z0-9.-]+$ ]] ||
    die "--public-name: '$public_name' is not a DNS name"
[ -z "$known_hosts_from" ] || [ -r "$known_hosts_from" ] || die "--known-hosts: cannot read $known_hosts_from"
if [ -z "$prefix" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo), or with --prefix DIR"
fi

at() { printf '%s%s' "$prefix" "$1"; }
conf=$(at "$CONF_DIR")

if [ -z "$prefix" ]; then
    if ! id -u "$TUNNEL_USER" >/dev/null 2>&1; then
        echo "==> creating the system user $TUNNEL_USER"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$TUNNEL_USER"
    fi
    install -d -m 0750 -o root -g "$TUNNEL_USER" "$conf"
else
    install -d -m 0750 "$conf" "$(at "$UNIT_DIR")"
fi

key="$conf/id_ed25519"
if [ ! -f "$key" ]; then
    echo "==> making the tunnel's SSH key $CONF_DIR/id_ed25519"
    ssh-keygen -q -t ed25519 -N '' -C "$TUNNEL_USER@$(hostname)" -f "$key"
fi
chmod 0600 "$key"
[ -n "$prefix" ] || chown "$TUNNEL_USER:$TUNNEL_USER" "$key"

echo "==> writing $CONF_DIR/tunnel.env"
sed -e "s|@RELAY_HOST@|$relay|" -e "s|@RELAY_SSH_PORT@|$ssh_port|" -e "s|@RELAY_USER@|$relay_user|" \
    -e "s|@RELAY_LISTEN_PORT@|$listen_port|" -e "s|@DEVICE_API_PORT@|$api_port|" \
    "$here/tunnel.env" >"$conf/tunnel.env.new"
chmod 0644 "$conf/tunnel.env.new"
mv "$conf/tunnel.env.new" "$conf/tunnel.env"

echo "==> the relay's host key: $CONF_DIR/known_hosts"
if [ -n "$known_hosts_from" ]; then
    install -m 0644 "$known_hosts_from" "$conf/known_hosts.new"
else
    ssh-keyscan -T 10 -t ed25519 -p "$ssh_port" "$relay" 2>/dev/null >"$conf/known_hosts.new" || true
    [ -s "$conf/known_hosts.new" ] || {
        rm -f "$conf/known_hosts.new"
        die "no SSH host key from $relay port $ssh_port (is sshd running there, the port open?)"
    }
fi
fingerprint=$(ssh-keygen -l -f "$conf/known_hosts.new") || die "not a known_hosts file: ${known_hosts_from:-the answer of ssh-keyscan}"
chmod 0644 "$conf/known_hosts.new"
mv "$conf/known_hosts.new" "$conf/known_hosts"
echo "    $fingerprint"
echo "    compare it with: ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub   (on the relay)"

install -m 0644 "$here/$UNIT" "$(at "$UNIT_DIR")/$UNIT"
if [ -z "$prefix" ]; then
    systemctl daemon-reload
    if [ "$start" -eq 1 ]; then
        systemctl enable --quiet "$UNIT"
        systemctl restart "$UNIT"
        echo "==> $UNIT enabled and started; it connects once the relay knows its key"
    fi
fi

cat <<MSG

On the relay host, as root (docs/remote-access.md, "On the relay"):

1. Allow this device's tunnel: add this line to /etc/ssh/camera-tunnel.keys

MSG
printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s",command="/usr/sbin/nologin" %s\n' \
    "$listen_port" "$(cat "$key.pub")"

cert=$(at "$DEVICE_CERT")
echo
echo "2. Trust this device's certificate: save it as /etc/caddy/camera-device.pem"
if [ -r "$cert" ]; then
    echo
    cat "$cert"
    echo "   (SHA-256 fingerprint: $(openssl x509 -noout -fingerprint -sha256 -in "$cert" | cut -d= -f2))"
else
    echo "   $DEVICE_CERT does not exist yet: start camera-app once (it makes it), then run this again"
fi
if [ -n "$public_name" ]; then
    echo
    echo "3. Publish it: add this block to /etc/caddy/Caddyfile, then: systemctl reload caddy"
    echo
    sed -n '/^[^#[:space:]]/,$p' "$here/relay/Caddyfile" |
        sed -e "s|camera.example.org|$public_name|" -e "s|127.0.0.1:20001|127.0.0.1:$listen_port|"
    echo
    echo "On this device: the camera answers only to names it knows (DNS rebinding). Add"
    echo "    api: {allowed_hosts: [$public_name]}"
    echo "(or the name to an existing api.allowed_hosts list) to /etc/camera-app/config.yaml, then:"
    echo "systemctl restart camera-app"
fi
if [ -n "$prefix" ] || [ "$start" -eq 0 ]; then
    echo
    echo "Then start the tunnel on this device: systemctl enable --now $UNIT"
fi
