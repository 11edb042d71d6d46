#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing Tracer Sensor
# need, and only those that are missing. `make run` and `make test` call it first,
# so a fresh Debian 12 machine needs no other set-up step.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
set -euo pipefail

pkgs=(gcc make pkg-config libc6-dev
      libpcap-dev libcurl4-openssl-dev libcjson-dev uthash-dev libssl-dev zlib1g-dev
      libsnmp-dev libmnl-dev)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(libcmocka-dev python3 python3-pytest iproute2 clang libclang-rt-14-dev
           openssl snmpd snmp lldpd wireguard-go wireguard-tools tcpdump)
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
