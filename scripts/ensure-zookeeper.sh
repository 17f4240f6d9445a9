#!/usr/bin/env bash
# Makes sure the real Apache ZooKeeper the tests and examples start is installed: the Debian
# package `zookeeper` (which brings Java along), unless ZOOKEEPER_CLASSPATH or ZOOKEEPER_HOME
# points at another installation. Does nothing when everything is there.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

apt_updated=0
apt_install() {
    if [ "${#SUDO[@]}" -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
        echo "error: need to install $* but this is not root and sudo is missing" >&2
        exit 1
    fi
    if [ "$apt_updated" -eq 0 ]; then
        "${SUDO[@]}" apt-get update -q
        apt_updated=1
    fi
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "$@"
}

if [ -z "${ZOOKEEPER_CLASSPATH:-}" ] && [ -z "${ZOOKEEPER_HOME:-}" ] && [ ! -f /usr/share/java/zookeeper.jar ]; then
    echo "==> installing ZooKeeper (Debian package zookeeper)"
    apt_install zookeeper
fi

if { [ -z "${JAVA_HOME:-}" ] || [ ! -x "${JAVA_HOME}/bin/java" ]; } && ! command -v java >/dev/null 2>&1; then
    echo "==> installing Java (default-jre-headless)"
    apt_install default-jre-headless
fi
