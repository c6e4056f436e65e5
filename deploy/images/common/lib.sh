# shellcheck shell=bash
# Shared by every <engine>/install.sh. Sourced, never executed. It runs as root inside the target
# root: a debootstrap'd chroot (build.sh, offline) or a debian:<suite>-slim build container
# (Dockerfile). Nothing here may depend on which of the two it is.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive LC_ALL=C
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Prepare the root: no daemons, no docs, our apt sources (<suite>, -updates, -security), UTC.
dbaas_begin() {
    [ "$(id -u)" = 0 ] || die "must run as root"
    # shellcheck disable=SC1091
    SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
    log "suite $SUITE"
    [ -r "$KEYRING" ] || die "$KEYRING missing"

    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d   # maintainer scripts start no daemon
    chmod 0755 /usr/sbin/policy-rc.d

    cat > /etc/dpkg/dpkg.cfg.d/01-dbaas-nodoc <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CFG
    cat > /etc/apt/apt.conf.d/01-dbaas <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
CFG
    rm -f /etc/apt/sources.list
    rm -f /etc/apt/sources.list.d/*
    cat > /etc/apt/sources.list.d/debian.sources <<SRC
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: $KEYRING

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: $KEYRING
SRC
    ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime
    echo Etc/UTC > /etc/timezone

    apt-get update -q
    apt-get upgrade -y -q      # the base (debootstrap or slim image) may predate security fixes
}

# Create a system user and group with a fixed id, BEFORE the package that would pick one.
dbaas_add_user() {  # name id home shell
    local name=$1 id=$2 home=$3 shell=$4
    if getent group "$name" >/dev/null; then
        [ "$(getent group "$name" | cut -d: -f3)" = "$id" ] || die "group $name exists with another gid"
    else
        groupadd --system --gid "$id" "$name"
    fi
    if getent passwd "$name" >/dev/null; then
        [ "$(id -u "$name")" = "$id" ] || die "user $name exists with another uid"
    else
        useradd --system --uid "$id" --gid "$name" --home-dir "$home" --no-create-home \
            --shell "$shell" "$name"
    fi
}

dbaas_install() {
    log "apt-get install $*"
    apt-get install -y -q --no-install-recommends "$@"
}

# Fail unless the installed package is <want>.x (epoch ignored), so the image label can't lie.
dbaas_require_version() {  # package want
    local v
    v=$(dpkg-query -W -f '${Version}' "$1")
    v=${v#*:}
    case "$v" in
        "$2".*|"$2"-*|"$2"+*) log "$1 $v" ;;
        *) die "$1 is $v, expected $2.x" ;;
    esac
}

# Leave no caches, lists, logs, docs, generated keys or policy-rc.d behind.
dbaas_end() {
    rm -f /usr/sbin/policy-rc.d
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log /var/log/bootstrap.log
    find /usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    find /usr/share/doc -mindepth 1 -type d -empty -delete
    rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    # ssl-cert's postinst makes a snakeoil key pair (build host name, same key in every
    # container); the control plane installs real certificates.
    rm -f /etc/ssl/private/ssl-cert-snakeoil.key /etc/ssl/certs/ssl-cert-snakeoil.pem
}
