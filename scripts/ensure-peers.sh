#!/usr/bin/env bash
# Makes sure the real peer clients of the interop tests (tests/interop_*.rs, tests/support/peers.rs)
# are installed: Apache Curator 5.4 from the Debian packages plus a JDK (javac) for the small Java
# contenders in tests/peers/java, and kazoo 2.11.0 from PyPI in a virtualenv for the Python ones in
# tests/peers/python. Does nothing (quickly) when everything is there; scripts/test.sh runs it.
#
# The venv lives at $ZK_DSL_KAZOO_VENV, default ${XDG_CACHE_HOME:-$HOME/.cache}/zk-dsl/kazoo-2.11.0
# (outside target/ so `cargo clean` keeps it); tests/support/peers.rs looks in the same place.
# CURATOR_CLASSPATH, when set, replaces the Debian Curator jars (then nothing is installed for Java
# but javac).
set -euo pipefail

KAZOO_VERSION=2.11.0
VENV="${ZK_DSL_KAZOO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/zk-dsl/kazoo-$KAZOO_VERSION}"

export DEBIAN_FRONTEND=noninteractive
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    SUDO=(sudo -n)
fi

apt_updated=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: need $* but this is not a Debian/Ubuntu system; install them by hand" >&2
        exit 1
    fi
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

# --- Java: Curator jars and javac -------------------------------------------------------------
if [ -z "${CURATOR_CLASSPATH:-}" ]; then
    missing=()
    for pkg in libcurator-recipes-java libcurator-framework-java libcurator-client-java libcurator-discovery-java; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$pkg")
        fi
    done
    # slf4j-nop (libslf4j-java, which Curator depends on) keeps the contenders' stdout clean.
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "==> installing Curator (Debian packages ${missing[*]})"
        apt_install "${missing[@]}"
    fi
fi

if { [ -z "${JAVA_HOME:-}" ] || [ ! -x "${JAVA_HOME}/bin/javac" ]; } && ! command -v javac >/dev/null 2>&1; then
    echo "==> installing a JDK for javac (default-jdk-headless)"
    apt_install default-jdk-headless
fi

# --- Python: kazoo in a venv ------------------------------------------------------------------
venv_ok() {
    [ -x "$VENV/bin/python" ] &&
        "$VENV/bin/python" -c "import sys, kazoo.version as v; sys.exit(v.__version__ != '$KAZOO_VERSION')" 2>/dev/null
}

if ! venv_ok; then
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
        echo "==> installing python3 and python3-venv"
        apt_install python3 python3-venv
    fi
    mkdir -p "$(dirname "$VENV")"
    # Several worktrees or CI jobs may share the cache: one builder at a time. A half-built venv
    # fails venv_ok (kazoo must import at the right version), so it is rebuilt, never used.
    exec 9>"$VENV.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
    if ! venv_ok; then
        echo "==> creating the kazoo $KAZOO_VERSION venv at $VENV"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "kazoo==$KAZOO_VERSION"
        venv_ok || { echo "error: kazoo $KAZOO_VERSION is not importable from $VENV" >&2; exit 1; }
    fi
fi
