#!/usr/bin/env bash
# Installs the Debian packages that building, running and testing Tracer Sensor
# need, and only those that are missing. `make run` and `make test` call it first,
# so a fresh Debian 12 machine needs no other set-up step; the Dockerfile calls it
# in both of its stages, so the image and a host build use the same lists.
#   scripts/install-deps.sh            build + run dependencies
#   scripts/install-deps.sh --test     also what the test suite needs
#   scripts/install-deps.sh --runtime  only what the built binary needs to run
#                                      (shared libraries, CA certificates; plus
#                                      setcap and curl for the container image)
#   scripts/install-deps.sh --docker   what `make docker-check` needs besides a
#                                      Docker engine (never installed here: use
#                                      the host's docker.io or docker-ce)
#   add --print to list the packages instead of installing them
set -euo pipefail

mode=build
print=no
for a in "$@"; do
    case "$a" in
        --test) mode=test ;;
        --runtime) mode=runtime ;;
        --docker) mode=docker ;;
        --print) print=yes ;;
        *) echo "usage: $0 [--test|--runtime|--docker] [--print]" >&2; exit 2 ;;
    esac
done

if [ "$mode" = docker ]; then
    # a Debian base image made locally when no registry is reachable; veth pairs and
    # namespaces; the health and receiver checks; the test capture's generator
    pkgs=(debootstrap iproute2 curl python3)
elif [ "$mode" = runtime ]; then
    # One package per library the binary links (see `objdump -p tracer-sensor | grep NEEDED`).
    pkgs=(libpcap0.8 libcurl4 libcjson1 libssl3 zlib1g libsnmp40 libmnl0 libmicrohttpd12
          libcap2 libseccomp2 ca-certificates libcap2-bin curl
          libndpi4.2 libfixbuf9 librdkafka1 libglib2.0-0
          libnettle8)
else
    pkgs=(gcc make pkg-config libc6-dev
          libpcap-dev libcurl4-openssl-dev libcjson-dev uthash-dev libssl-dev zlib1g-dev
          libsnmp-dev libmnl-dev libmicrohttpd-dev libcap-dev libseccomp-dev
          libndpi-dev libfixbuf-dev librdkafka-dev
          nettle-dev)
fi
if [ "$mode" = test ]; then
    pkgs+=(libcmocka-dev python3 python3-pytest iproute2 clang libclang-rt-14-dev
           openssl snmpd snmp lldpd wireguard-go wireguard-tools tcpdump
           python3-yaml systemd libcap2-bin tcpreplay docker-compose
           python3-fastapi python3-uvicorn python3-pydantic
           python3-h2
           tshark
           libndpi-bin nfdump kcat
           nftables)
fi
if [ "$print" = yes ]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
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
