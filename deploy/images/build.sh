#!/bin/bash
# Builds the engine images listed in images.list that are missing or whose recipe changed.
#
#   deploy/images/build.sh [--force] [--refresh] [--dockerfile] [-v] [TAG...]
#
# Offline (default, no registry needed): debootstrap a minbase root per suite (cached as a tarball
# under $DBAAS_IMAGE_CACHE/rootfs), extract it per image, run <recipe>/install.sh in a chroot, then
# `tar | docker import` with the metadata lines of <recipe>/Dockerfile as --change options.
# --dockerfile builds with `docker build` from <recipe>/Dockerfile instead (needs debian:<suite>-slim).
# An image is skipped when its tag exists with label dbaas.recipe_hash equal to the current hash
# (build.sh, common/lib.sh, every file of the recipe directory, and its images.list line).
#   --force    rebuild the selected images even if cached
#   --refresh  also re-run debootstrap (and so pick up new Debian point releases in the base)
#   -v         stream build output to stderr (default: only into the log file)
# Prints one line per image. Needs root, debootstrap and a Docker daemon.
set -euo pipefail
shopt -s inherit_errexit

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${DBAAS_IMAGE_CACHE:-/var/cache/dbaas}
LOG=${DBAAS_IMAGE_BUILD_LOG:-$CACHE/build.log}
export DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
export DEBIAN_SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

FORCE=0 REFRESH=0 MODE=offline VERBOSE=0
WANT=()
while [ $# -gt 0 ]; do
    case "$1" in
        --force) FORCE=1 ;;
        --refresh) FORCE=1 REFRESH=1 ;;
        --dockerfile) MODE=dockerfile ;;
        -v) VERBOSE=1 ;;
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) echo "unknown option $1" >&2; exit 2 ;;
        *) WANT+=("$1") ;;
    esac
    shift
done

die() { echo "build.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- cleanup of temp dirs and mounts
TMPDIRS=()
CURRENT=""   # the image being built, for the failure message
remove_tmp() {  # unmount everything below a temp dir (deepest first), then delete it
    local d=$1 m keep=() x
    [ -d "$d" ] && while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done < <(awk -v p="$d/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r)
    if awk -v p="$d/" 'index($2, p) == 1 {f=1} END {exit !f}' /proc/mounts; then
        echo "build.sh: $d still has mounts, not removing it" >&2
    else
        rm -rf --one-file-system "$d"
    fi
    for x in "${TMPDIRS[@]}"; do [ "$x" = "$d" ] || keep+=("$x"); done
    TMPDIRS=("${keep[@]}")
}
on_exit() {
    local rc=$? d
    for d in "${TMPDIRS[@]}"; do remove_tmp "$d"; done
    if [ "$rc" != 0 ] && [ -n "$CURRENT" ]; then
        echo "$CURRENT FAILED after $((SECONDS - START))s; last lines of $LOG:" >&2
        tail -n 40 "$LOG" >&2
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
newtmp() {  # sets TMP to a new dir under /var/tmp (disk, not tmpfs), removed on exit
    TMP=$(mktemp -d /var/tmp/dbaas-image.XXXXXX)
    TMPDIRS+=("$TMP")
}

# ---------------------------------------------------------------- checks, lock, log
[ "$(id -u)" = 0 ] || die "must run as root"
command -v docker >/dev/null || die "docker client missing"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "Docker daemon does not answer"
if [ "$MODE" = offline ]; then
    command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
    [ -r "$KEYRING" ] || die "$KEYRING missing (apt-get install debian-archive-keyring)"
fi
mkdir -p "$CACHE/rootfs"
exec 9>"$CACHE/build.lock"
flock 9   # one build.sh at a time per cache
: > "$LOG"
run() {  # run a command, output into the log (and stderr with -v)
    if [ "$VERBOSE" = 1 ]; then
        "$@" 2>&1 | tee -a "$LOG" >&2
    else
        "$@" >>"$LOG" 2>&1
    fi
}

# ---------------------------------------------------------------- hashes
sha() { sha256sum | cut -d' ' -f1; }
recipe_hash() {  # line recipe
    {
        printf '%s\n' "$1"
        cd "$HERE" && sha256sum build.sh common/lib.sh $(find "$2" -type f | sort)
    } | sha
}
# The base root depends only on build.sh (the debootstrap step lives here) and the suite.
ROOTFS_KEY=$(sha < "$HERE/build.sh" | cut -c1-16)

# ---------------------------------------------------------------- base root per suite
declare -A REFRESHED=()
rootfs_tar() {  # suite -> sets ROOTFS_TAR to the cached tarball, creating it if needed
    local suite=$1 d
    ROOTFS_TAR=$CACHE/rootfs/$suite-$ROOTFS_KEY.tar
    if [ "$REFRESH" = 1 ] && [ -z "${REFRESHED[$suite]:-}" ]; then
        rm -f "$ROOTFS_TAR"
        REFRESHED[$suite]=1
    fi
    [ -s "$ROOTFS_TAR" ] && return 0
    newtmp; d=$TMP
    echo "== debootstrap $suite" >>"$LOG"
    run debootstrap --variant=minbase --force-check-gpg --keyring="$KEYRING" \
        "$suite" "$d/root" "$DEBIAN_MIRROR"
    # drop what debootstrap copied from this host, and its download cache
    : > "$d/root/etc/resolv.conf"
    : > "$d/root/etc/hostname"
    rm -rf "$d/root/var/cache/apt/archives/"*.deb "$d/root/var/lib/apt/lists/"* \
        "$d/root/var/log/bootstrap.log"
    tar -C "$d/root" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
    mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    find "$CACHE/rootfs" -name "$suite-*.tar" ! -name "${ROOTFS_TAR##*/}" -delete
    remove_tmp "$d"
}

# ---------------------------------------------------------------- Dockerfile metadata -> --change
# Sets CHANGES=(--change 'ENV ...' ...) from the recipe's Dockerfile; ARG defaults, then the
# images.list build args, then RECIPE_HASH, are substituted for ${NAME}.
dockerfile_changes() {  # recipe hash args...
    local df=$HERE/$1/Dockerfile hash=$2 line instr name val
    shift 2
    declare -A vars=()
    CHANGES=()
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        instr=${line%% *}
        if [ "$instr" = ARG ] && [[ $line == *=* ]]; then
            name=${line#ARG }; vars[${name%%=*}]=${name#*=}
        fi
    done < "$df"
    for val in "$@"; do vars[${val%%=*}]=${val#*=}; done
    vars[RECIPE_HASH]=$hash
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in ''|'#'*) continue ;; esac
        [[ $line == *\\ ]] && die "$df: line continuations are not supported: $line"
        instr=${line%% *}
        case "$instr" in
            ARG|FROM|COPY|RUN) ;;   # the install step, done by chroot + install.sh
            ENV|LABEL|USER|WORKDIR|EXPOSE|CMD|ENTRYPOINT|VOLUME)
                for name in "${!vars[@]}"; do line=${line//\$\{$name\}/${vars[$name]}}; done
                # shellcheck disable=SC2016
                [[ $line == *'${'* ]] && die "$df: unknown variable in: $line"
                CHANGES+=(--change "$line") ;;
            *) die "$df: $instr cannot be applied by docker import" ;;
        esac
    done < "$df"
}

# ---------------------------------------------------------------- one image
build_offline() {  # tag recipe hash args...
    local tag=$1 recipe=$2 hash=$3 suite="" a d r
    shift 3
    for a in "$@"; do [ "${a%%=*}" = SUITE ] && suite=${a#*=}; done
    [ -n "$suite" ] || die "$tag: no SUITE= in images.list"
    dockerfile_changes "$recipe" "$hash" "$@"
    rootfs_tar "$suite"
    newtmp; d=$TMP
    r=$d/root
    mkdir "$r"
    tar -C "$r" --numeric-owner -xpf "$ROOTFS_TAR"
    install -d -m 0755 "$r/tmp/dbaas"
    cp "$HERE/common/lib.sh" "$HERE/$recipe/"* "$r/tmp/dbaas/"
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"   # for apt only; emptied again below
    mount -t proc proc "$r/proc"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"   # apt's terminal log
    echo "== $tag: chroot install ($*)" >>"$LOG"
    run chroot "$r" /usr/bin/env -i PATH="$CHROOT_PATH" HOME=/root \
        DEBIAN_MIRROR="$DEBIAN_MIRROR" DEBIAN_SECURITY_MIRROR="$DEBIAN_SECURITY_MIRROR" "$@" \
        bash /tmp/dbaas/install.sh
    umount "$r/dev/pts" "$r/proc"
    rm -rf "$r/tmp/dbaas"
    : > "$r/etc/resolv.conf"
    echo "== $tag: import" >>"$LOG"
    tar -C "$r" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
        | run docker import "${CHANGES[@]}" - "$tag"
    remove_tmp "$d"
}

build_dockerfile() {  # tag recipe hash args...
    local tag=$1 recipe=$2 hash=$3 a
    shift 3
    local bargs=(--build-arg "RECIPE_HASH=$hash")
    for a in "$@"; do bargs+=(--build-arg "$a"); done
    run docker build -f "$HERE/$recipe/Dockerfile" "${bargs[@]}" -t "$tag" "$HERE"
}

# ---------------------------------------------------------------- main
mapfile -t LINES < "$HERE/images.list"   # read up front: nothing below may eat the loop's stdin
found=0 START=$SECONDS
for line in "${LINES[@]}"; do
    read -r tag recipe args <<< "$line" || true
    case "$tag" in ''|'#'*) continue ;; esac
    if [ ${#WANT[@]} -gt 0 ] && ! printf '%s\n' "${WANT[@]}" | grep -qxF "$tag"; then
        continue
    fi
    found=$((found + 1))
    if [ ! -f "$HERE/$recipe/install.sh" ] || [ ! -f "$HERE/$recipe/Dockerfile" ]; then
        die "$tag: recipe $recipe incomplete"
    fi
    read -r -a argv <<< "$args"
    hash=$(recipe_hash "$tag $recipe ${argv[*]}" "$recipe")
    have=$(docker image inspect -f '{{index .Config.Labels "dbaas.recipe_hash"}}' "$tag" \
        2>/dev/null || true)
    if [ "$FORCE" = 0 ] && [ "$have" = "$hash" ]; then
        echo "$tag cached"
        continue
    fi
    old=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
    START=$SECONDS CURRENT=$tag
    echo "==== $tag ($MODE, recipe $hash)" >>"$LOG"
    "build_$MODE" "$tag" "$recipe" "$hash" "${argv[@]}"
    CURRENT=""
    new=$(docker image inspect -f '{{.Id}}' "$tag")
    if [ -n "$old" ] && [ "$old" != "$new" ]; then
        docker image rm "$old" >/dev/null 2>&1 || true   # the previous build, unless still in use
    fi
    echo "$tag built in $((SECONDS - START))s"
done
[ "$found" -gt 0 ] || die "no image in images.list matches: ${WANT[*]}"
