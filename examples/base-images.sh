#!/usr/bin/env bash
# Makes the base images the examples build on, without any registry:
#
#   localhost/busybox:latest   Debian's busybox-static, with a symlink for
#                              every applet (busybox --list)
#   localhost/debian:bookworm  `debootstrap --variant=minbase bookworm`
#
# Each root filesystem is made once, kept as a tarball in the cache directory
# and turned into an image with `rbuild import`. Later runs reuse the tarballs,
# and skip the import when the store already holds an image made from the
# current tarball. Delete the cache directory to start over.
#
# Usage: examples/base-images.sh [RBUILD_BIN [STORE]]
#
# Environment (arguments win over these):
#   RBUILD_BIN              rbuild binary (default: target/release/rbuild)
#   RBUILD_ROOT             rbuild store (default: $RBUILD_EXAMPLES_CACHE/store)
#   RBUILD_EXAMPLES_CACHE   cache directory (default: /var/tmp/rbuild-examples)
#   DEBIAN_MIRROR           Debian mirror (default: the one apt uses here)
#   SOURCE_DATE_EPOCH       timestamp for every file in the Debian tarball
#                           (default: the Date of the suite's Release file)
#
# Needs root, debootstrap and busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${RBUILD_EXAMPLES_CACHE:-/var/tmp/rbuild-examples}
bin=${1:-${RBUILD_BIN:-$PWD/target/release/rbuild}}
store=${2:-${RBUILD_ROOT:-$cache/store}}
suite=bookworm
mkdir -p "$cache" "$store"

# The mirror apt on this machine uses (deb822 "URIs:" or one-line "deb" form),
# so the examples work wherever the host's own package installs work.
host_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
        /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk '
            /^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }
            /^[[:space:]]*deb[[:space:]]/ {
                for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break }
            }' "$f"
    done | grep -E '/debian/?$' | head -n 1
}
mirror=${DEBIAN_MIRROR:-$(host_mirror || true)}
mirror=${mirror:-http://deb.debian.org/debian}
mirror=${mirror%/}

# import TARBALL NAME: rbuild import, unless the store already has NAME and it
# was made from this very tarball (the stamp is newer than the tarball).
import() {
    local tarball=$1 name=$2 stamp
    stamp=$store/.examples-imported-$(basename "$tarball")
    if [ -e "$stamp" ] && [ ! "$tarball" -nt "$stamp" ] &&
        "$bin" inspect --root "$store" "$name" >/dev/null 2>&1; then
        echo "== $name: already in the store"
        return
    fi
    echo "== $name: rbuild import $tarball"
    "$bin" import --root "$store" "$tarball" "$name"
    touch "$stamp"
}

# tar_rootfs DIR OUT: a tarball with sorted entries, numeric owners, no
# atime/ctime and every mtime clamped to $epoch, written atomically.
tar_rootfs() {
    local dir=$1 out=$2
    tar -C "$dir" --sort=name --numeric-owner \
        --mtime="@$epoch" --clamp-mtime \
        --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        -cf "$out.tmp" .
    mv "$out.tmp" "$out"
}

# --- busybox ---------------------------------------------------------------
busybox_tar=$cache/busybox-rootfs.tar
if [ ! -e "$busybox_tar" ]; then
    echo "== busybox rootfs from $(readlink -f /bin/busybox)"
    tmp=$(mktemp -d "$cache/busybox.XXXXXX")
    chmod 755 "$tmp"
    mkdir -p "$tmp/bin" "$tmp/tmp" "$tmp/etc" "$tmp/root"
    chmod 1777 "$tmp/tmp"
    cp /bin/busybox "$tmp/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
    epoch=${SOURCE_DATE_EPOCH:-$(stat -c %Y /bin/busybox)}
    tar_rootfs "$tmp" "$busybox_tar"
    rm -rf "$tmp"
fi
import "$busybox_tar" localhost/busybox:latest

# --- debian ------------------------------------------------------------------
debian_tar=$cache/debian-$suite-minbase.tar
if [ ! -e "$debian_tar" ]; then
    command -v debootstrap >/dev/null || {
        echo "base-images.sh: debootstrap is missing (apt-get install debootstrap)" >&2
        exit 1
    }
    echo "== debootstrap --variant=minbase $suite from $mirror"
    tmp=$(mktemp -d "$cache/debian.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    debootstrap --variant=minbase "$suite" "$tmp/rootfs" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || {
        tail -n 30 "$cache/debootstrap.log" >&2
        exit 1
    }
    root=$tmp/rootfs
    # The suite's Release date makes a repeatable timestamp.
    release=$(ls "$root"/var/lib/apt/lists/*_dists_"${suite}"_*Release 2>/dev/null | head -n 1 || true)
    epoch=${SOURCE_DATE_EPOCH:-}
    if [ -z "$epoch" ] && [ -n "$release" ]; then
        epoch=$(date -d "$(sed -n 's/^Date: //p' "$release" | head -n 1)" +%s 2>/dev/null || true)
    fi
    epoch=${epoch:-$(date +%s)}
    # Updates and security fixes, like the official images' sources.
    case $mirror in
        */debian) security=${mirror%/debian}/debian-security ;;
        *) security=http://deb.debian.org/debian-security ;;
    esac
    rm -f "$root/etc/apt/sources.list"
    cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # Keep RUN layers small, as Debian's images on Docker Hub do: apt keeps
    # no binary caches of the package lists (about 80 MB) and deletes the
    # .deb files once they are installed. A build that keeps them in a cache
    # mount deletes this file first, as with Debian's image on Docker Hub.
    cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CONF'
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Keep-Downloaded-Packages "false";
CONF
    # Drop what differs from run to run (ldconfig's aux-cache records inodes
    # and times) or only matters on a booted system,
    # and the package lists (50 MB): as on Docker Hub's debian image, a RUN
    # step starts with `apt-get update`.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/dpkg/*-old \
        "$root"/var/cache/ldconfig/aux-cache "$root"/tmp/* "$root"/var/tmp/* \
        "$root"/root/.bash_history "$root"/debootstrap
    find "$root/var/log" -type f -delete
    : >"$root/etc/machine-id"
    rm -f "$root/etc/hostname"
    tar_rootfs "$root" "$debian_tar"
    rm -rf "$tmp"
    trap - EXIT
fi
import "$debian_tar" localhost/debian:$suite
