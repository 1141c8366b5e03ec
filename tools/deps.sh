#!/bin/sh
# Installs every Debian package the build, the demo and the tests need
# (git, clang, libFuzzer's runtime and valgrind: tools/hardening-check.sh;
# apparmor and systemd: the profile and unit checks in tests/apparmor and
# tests/systemd, with apparmor_parser and systemd-analyze).
# Run as root on Debian 12 (bookworm) or later.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  build-essential autoconf automake libtool pkg-config ca-certificates \
  libhiredis-dev libjansson-dev libseccomp-dev libcap-ng-dev libapt-pkg-dev \
  libsodium-dev uuid-dev libinih-dev libapparmor-dev libssl-dev check \
  redis-server redis-sentinel dpkg-dev apt-utils openssl \
  python3 python3-redis python3-celery python3-nacl \
  apparmor systemd \
  git clang libclang-rt-dev valgrind >/dev/null
