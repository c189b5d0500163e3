#!/usr/bin/env bash
# Builds the bundle that Tests/Bench/h100-run.sh unpacks on the lent GPU machine, which has no Swift toolchain:
# a release forbc with the Swift standard library linked in (--static-swift-stdlib) and the shared libraries it
# needs that such a machine may lack (everything ldd resolves except the C library's own), as
# .build-device/bundle.tar.xz (forbc, lib/, tools/: mdevctl and hyperfine where installed). Run from anywhere; prints
# what it packed.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
[ -z "${FORBC_BIN:-}" ] || FORBC_BIN=$(realpath "$FORBC_BIN")
OUT=$REPO/.build-device
STAGE=$OUT/stage
cd "$REPO"
# FORBC_BIN: pack that release binary (built with --static-swift-stdlib) instead of building one here.
if [ -n "${FORBC_BIN:-}" ]; then
    forbc=$FORBC_BIN
else
    swift build -c release --static-swift-stdlib --product forbc --scratch-path "$OUT/build" >&2
    bin=$(swift build -c release --static-swift-stdlib --product forbc --scratch-path "$OUT/build" --show-bin-path)
    forbc=$bin/forbc
fi
rm -rf "$STAGE" && mkdir -p "$STAGE/lib" "$STAGE/tools"
cp "$forbc" "$STAGE/forbc"
# Tests/Bench/h100-speed.sh times forbc beside Debian's mdevctl with hyperfine (both need only libgcc_s and libm).
for tool in mdevctl hyperfine; do
    if command -v "$tool" >/dev/null; then cp -L "$(command -v "$tool")" "$STAGE/tools/"; fi
done
# Every resolved dependency except glibc's own libraries (the target's glibc is newer than Debian 12's).
ldd "$forbc" | awk '/=> \// {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*.so.* | libresolv.so.*) ;;
        *) cp -L "$lib" "$STAGE/lib/" ;;
    esac
done
# Anything forbc opens at run time by name (dlopen) and its dependencies, where present here.
for name in libvirt.so.0 libvirt-qemu.so.0; do
    path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ {print $NF}' | sed -n 1p)
    [ -n "$path" ] || continue
    cp -L "$path" "$STAGE/lib/"
    ldd "$path" | awk '/=> \// {print $3}' | while read -r lib; do
        case "$(basename "$lib")" in
            libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*.so.* | libresolv.so.*) ;;
            *) cp -L "$lib" "$STAGE/lib/" ;;
        esac
    done
done
tar cJf "$OUT/bundle.tar.xz" -C "$STAGE" .
echo "bundle: $OUT/bundle.tar.xz ($(du -h "$OUT/bundle.tar.xz" | cut -f1)), $(ls "$STAGE/lib" | wc -l) libraries" >&2
