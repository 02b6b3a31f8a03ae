#!/usr/bin/env bash
# A small certificate authority for the camera MQTT broker (see README.md in this directory).
#
#   make-certs.sh [--force] DIR ca                       the CA (once): DIR/ca.key, DIR/ca.crt
#   make-certs.sh [--force] DIR server HOSTNAME [IP...]  the broker: DIR/server.{key,crt}
#   make-certs.sh [--force] DIR client NAME              a camera or the controller:
#                                                        DIR/clients/NAME.{key,crt}, CN=NAME
#
# Keys are EC P-256 and mode 0600. Running a command again is harmless: an existing key and
# certificate are left alone (a missing certificate is re-issued for the existing key); --force
# makes a new key and certificate. The broker takes a client's certificate CN as its MQTT user
# name, and the ACL puts that name into topics, so NAME must be [A-Za-z0-9_-]{1,64}.
set -euo pipefail

CA_DAYS=3650    # 10 years
LEAF_DAYS=1825  # 5 years; renew with --force

usage() {
    cat >&2 <<'EOF'
usage: make-certs.sh [--force] DIR ca
       make-certs.sh [--force] DIR server HOSTNAME [IP...]
       make-certs.sh [--force] DIR client NAME
EOF
    exit 2
}

die() {
    echo "make-certs.sh: $*" >&2
    exit 1
}

force=0
args=()
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h | --help) usage ;;
        -*) echo "make-certs.sh: unknown option $arg" >&2; usage ;;
        *) args+=("$arg") ;;
    esac
done
[ "${#args[@]}" -ge 2 ] || usage
dir=${args[0]}
[ -n "$dir" ] || usage
action=${args[1]}
operands=("${args[@]:2}")

command -v openssl >/dev/null || die "openssl is not installed (Debian package openssl)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Make a new P-256 key at $1, readable by its owner only from the first byte on.
new_key() {
    local key=$1
    rm -f "$key"
    (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key")
    chmod 0600 "$key"
}

# Decide what to do for a key/certificate pair: prints "skip", "cert" (issue a certificate for the
# existing key) or "both" (new key and certificate).
plan() {
    local key=$1 cert=$2
    if [ "$force" -eq 1 ]; then
        echo both
    elif [ -e "$key" ] && [ -e "$cert" ]; then
        echo skip
    elif [ -e "$key" ]; then
        echo cert
    else
        echo both
    fi
}

require_ca() {
    [ -f "$dir/ca.key" ] && [ -f "$dir/ca.crt" ] \
        || die "no CA in $dir: run 'make-certs.sh $dir ca' first"
}

# Sign the request $1 with the CA into $2, with the X.509v3 extensions in $3.
sign() {
    local csr=$1 cert=$2 extensions=$3
    printf '%s\n' "$extensions" >"$work/ext.cnf"
    openssl x509 -req -sha256 -in "$csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -set_serial "0x$(openssl rand -hex 16)" -days "$LEAF_DAYS" \
        -extfile "$work/ext.cnf" -out "$cert.tmp" 2>"$work/openssl.log" \
        || { cat "$work/openssl.log" >&2; die "signing $cert failed"; }
    chmod 0644 "$cert.tmp"
    mv -f "$cert.tmp" "$cert"
}

# Issue a leaf certificate for key $1 into $2 with subject CN $3 and extensions $4.
issue() {
    local key=$1 cert=$2 cn=$3 extensions=$4
    openssl req -new -sha256 -key "$key" -subj "/CN=$cn" -out "$work/req.csr"
    sign "$work/req.csr" "$cert" "$extensions"
}

make_ca() {
    [ "${#operands[@]}" -eq 0 ] || usage
    local key=$dir/ca.key cert=$dir/ca.crt
    (umask 077 && mkdir -p "$dir")
    case $(plan "$key" "$cert") in
        skip)
            echo "CA already exists: $cert (left as it is; --force makes a new CA, after which" \
                "every server and client certificate must be issued again)"
            return
            ;;
        both)
            if [ -e "$key" ]; then
                echo "--force: replacing the CA key $key; certificates issued by the old CA" \
                    "stop working" >&2
            fi
            new_key "$key"
            ;;
        cert) echo "re-issuing the CA certificate for the existing key $key" ;;
    esac
    openssl req -x509 -new -sha256 -key "$key" -days "$CA_DAYS" \
        -subj "/CN=Camera MQTT CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -addext "subjectKeyIdentifier=hash" \
        -out "$cert.tmp"
    chmod 0644 "$cert.tmp"
    mv -f "$cert.tmp" "$cert"
    echo "made CA: $cert (key $key: keep it off the broker if you can, and back it up)"
}

make_server() {
    [ "${#operands[@]}" -ge 1 ] || usage
    local host=${operands[0]} san ip
    [[ "$host" =~ ^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$ ]] \
        || die "'$host' is not a host name"
    san="DNS:$host"
    for ip in "${operands[@]:1}"; do
        [[ "$ip" =~ ^[0-9A-Fa-f.:]+$ && "$ip" =~ [.:] ]] || die "'$ip' is not an IP address"
        san+=",IP:$ip"
    done
    require_ca
    local key=$dir/server.key cert=$dir/server.crt
    case $(plan "$key" "$cert") in
        skip)
            echo "server certificate already exists: $cert (left as it is; --force replaces it)"
            return
            ;;
        both) new_key "$key" ;;
        cert) echo "issuing a server certificate for the existing key $key" ;;
    esac
    issue "$key" "$cert" "$host" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    echo "made server certificate: $cert for $san"
}

make_client() {
    [ "${#operands[@]}" -eq 1 ] || usage
    local name=${operands[0]}
    # The CN becomes the MQTT user name and %u in the ACL: '/', '+' or '#' in it would let a
    # client reach other topics, so only plain names are accepted.
    [[ "$name" =~ ^[A-Za-z0-9_-]{1,64}$ ]] \
        || die "'$name' is not a valid client name: use 1-64 of A-Z a-z 0-9 _ -"
    require_ca
    mkdir -p "$dir/clients"
    local key=$dir/clients/$name.key cert=$dir/clients/$name.crt
    case $(plan "$key" "$cert") in
        skip)
            echo "client certificate already exists: $cert (left as it is; --force replaces it)"
            return
            ;;
        both) new_key "$key" ;;
        cert) echo "issuing a client certificate for the existing key $key" ;;
    esac
    issue "$key" "$cert" "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid"
    echo "made client certificate: $cert (CN=$name)"
}

case "$action" in
    ca) make_ca ;;
    server) make_server ;;
    client) make_client ;;
    *) usage ;;
esac
