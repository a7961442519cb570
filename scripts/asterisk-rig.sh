#!/usr/bin/env bash
# Build (once) the Debian sid chroot that holds the real Asterisk used by the integration tests.
#
#   scripts/asterisk-rig.sh [DIR]
#
# DIR defaults to ${GPS_ADMIN_RIG_DIR:-/var/cache/gps-admin/asterisk-sid}.
# Asterisk is not packaged for Debian 12 and sid's package needs sid's libc, hence the chroot
# (see /work/shared/design/ASTERISK-AMI-NOTES.md §6). Needs root and access to a Debian mirror
# (GPS_ADMIN_RIG_MIRROR, default: debootstrap's own default mirror).
#
# Idempotent: when DIR holds the stamp file the script exits at once. The chroot is built in a
# temporary sibling directory and renamed into place only when complete, so a half-built chroot
# is never seen under DIR. Concurrent callers serialise on a lock file next to DIR.
set -euo pipefail

DIR="${1:-${GPS_ADMIN_RIG_DIR:-/var/cache/gps-admin/asterisk-sid}}"
DIR="${DIR%/}"
# the script deletes DIR when it is not a complete rig: refuse anything that is not a dedicated path
case "$DIR" in
    /*/*) ;;
    *) echo "asterisk-rig: DIR must be an absolute path at least two levels deep, got '$DIR'" >&2; exit 2 ;;
esac
STAMP_NAME=".gps-admin-rig.stamp"
STAMP="$DIR/$STAMP_NAME"
SUITE="sid"
PACKAGES="asterisk,asterisk-modules"

log() { printf 'asterisk-rig: %s\n' "$*" >&2; }

# Fast path: nothing to do (no lock, no subprocess).
if [[ -f "$STAMP" ]]; then
    log "ready: $DIR ($(head -n 1 "$STAMP"))"
    exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
    log "must run as root (debootstrap and chroot need it)"
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    log "debootstrap not found; installing it with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
fi
command -v flock >/dev/null 2>&1 || { log "flock (util-linux) not found"; exit 1; }

PARENT="$(dirname "$DIR")"
mkdir -p "$PARENT"
exec 9>"$DIR.lock"
log "waiting for the build lock $DIR.lock"
flock 9

# Another process may have finished the build while we waited.
if [[ -f "$STAMP" ]]; then
    log "ready: $DIR ($(head -n 1 "$STAMP"))"
    exit 0
fi

# Leftovers of an interrupted build: never trust them.
for stale in "$DIR".tmp.*; do
    [[ -e "$stale" ]] || continue
    log "removing stale partial build $stale"
    for m in proc sys dev/pts; do umount -l "$stale/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$stale"
done
if [[ -e "$DIR" ]]; then
    log "removing $DIR: it has no stamp, so it is not a complete rig"
    rm -rf --one-file-system "$DIR"
fi

TMP="$(mktemp -d "$DIR.tmp.XXXXXX")"
cleanup() {
    local rc=$?
    if [[ -n "${TMP:-}" && -d "$TMP" ]]; then
        for m in proc sys dev/pts; do umount -l "$TMP/$m" 2>/dev/null || true; done
        rm -rf --one-file-system "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
log "debootstrap --variant=minbase --include=$PACKAGES $SUITE $TMP ${GPS_ADMIN_RIG_MIRROR:-} (takes 1-2 minutes)"
# shellcheck disable=SC2086  # the mirror is optional: empty means debootstrap's default
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$TMP" ${GPS_ADMIN_RIG_MIRROR:-} \
        > "$TMP.debootstrap.log" 2>&1; then
    log "debootstrap failed; last lines of its log:"
    tail -n 30 "$TMP.debootstrap.log" >&2 || true
    tail -n 30 "$TMP/debootstrap/debootstrap.log" >&2 2>/dev/null || true
    rm -f "$TMP.debootstrap.log"
    exit 1
fi
rm -f "$TMP.debootstrap.log"

# The package cache is not needed at run time.
rm -rf "$TMP"/var/cache/apt/archives/*.deb
# A directory for per-run configurations, owned by root (no runuser: see the notes §6).
mkdir -p "$TMP/run"

VERSION="$(chroot "$TMP" asterisk -V)"
[[ "$VERSION" == Asterisk* ]] || { log "unexpected 'asterisk -V' output: $VERSION"; exit 1; }
PKG="$(chroot "$TMP" dpkg-query -W -f '${Version}' asterisk)"
{
    echo "$VERSION"
    echo "package asterisk $PKG"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - start )) s"
} > "$TMP/$STAMP_NAME"

mv -T "$TMP" "$DIR"
TMP=""
log "built $DIR in $(( $(date +%s) - start )) s: $VERSION (package $PKG)"
