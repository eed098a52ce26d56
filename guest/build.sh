#!/usr/bin/env bash
# Build the sandbox guest, guest/skillforge-js.wasm: QuickJS-ng plus our
# driver (guest/driver.c), compiled for wasm32-wasi (WASI preview 1) with
# Debian's clang-19 and wasi-libc. See guest/README.md and guest/ABI.md.
#
#   guest/build.sh           build; write guest/skillforge-js.wasm and .sha256
#   guest/build.sh --check   rebuild in a temporary directory and fail unless
#                            the result is byte-identical to the committed file
#
# The QuickJS-ng C sources come from the crates.io package rquickjs-sys,
# fetched through cargo (checksum-pinned below) into the asset cache; they
# are copied to a scratch directory and patched there, never into the repo.
set -euo pipefail

RQUICKJS_SYS_VERSION=0.14.0
# sha256 of rquickjs-sys-0.14.0.crate as recorded in the crates.io index.
RQUICKJS_SYS_SHA256=cee271d0eeba64f0915b846cb7ae02e16faf3dfdffdca91731101d9d30fe3423
QUICKJS_NG_VERSION=0.16.2

# Shadow stack (linear memory, placed first) and the default JS stack limit
# inside it; see "Stack" in guest/README.md.
SHADOW_STACK_BYTES=$((1024 * 1024))
DEFAULT_MAX_STACK_BYTES=$((256 * 1024))

CLANG=clang-19
APT_PACKAGES="clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32"
WASI_INCLUDE=/usr/include/wasm32-wasi
WASI_LIB=/usr/lib/wasm32-wasi

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SKILLFORGE_CACHE:-$HOME/.cache/skillforge}
OUT_NAME=skillforge-js.wasm

die() {
    echo "guest/build.sh: error: $*" >&2
    exit 1
}

# Fail early, naming the Debian packages, if the toolchain is incomplete.
check_toolchain() {
    local missing=()
    command -v "$CLANG" >/dev/null || missing+=("$CLANG")
    command -v wasm-ld-19 >/dev/null || missing+=("wasm-ld-19")
    [[ -f $WASI_LIB/libc.a && -f $WASI_INCLUDE/stdio.h ]] || missing+=("wasi-libc")
    if command -v "$CLANG" >/dev/null; then
        [[ -f $("$CLANG" --target=wasm32-wasi -print-libgcc-file-name) ]] ||
            missing+=("libclang_rt.builtins-wasm32.a")
    fi
    command -v cargo >/dev/null || missing+=("cargo")
    command -v patch >/dev/null || missing+=("patch")
    if ((${#missing[@]})); then
        die "missing ${missing[*]}; install the toolchain with
    sudo apt-get install $APT_PACKAGES patch
(and cargo from rustup)"
    fi
}

# Print the path of the pristine QuickJS-ng sources, vendoring rquickjs-sys
# into the cache through cargo on first use.
fetch_sources() {
    local dir=$CACHE/guest/rquickjs-sys-$RQUICKJS_SYS_VERSION
    local pkg=$dir/vendor/rquickjs-sys-$RQUICKJS_SYS_VERSION
    if ! grep -qs "\"package\":\"$RQUICKJS_SYS_SHA256\"" "$pkg/.cargo-checksum.json"; then
        echo "guest/build.sh: fetching rquickjs-sys $RQUICKJS_SYS_VERSION through cargo" >&2
        mkdir -p "$dir/fetch/src"
        : >"$dir/fetch/src/lib.rs"
        cat >"$dir/fetch/Cargo.toml" <<EOF
# Throwaway manifest written by guest/build.sh to fetch QuickJS-ng's sources.
[package]
name = "skillforge-guest-sources"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
rquickjs-sys = "=$RQUICKJS_SYS_VERSION"

[workspace]
EOF
        rm -rf "$dir/vendor"
        cargo vendor --quiet --versioned-dirs --manifest-path "$dir/fetch/Cargo.toml" \
            "$dir/vendor" >/dev/null ||
            die "cargo could not fetch rquickjs-sys $RQUICKJS_SYS_VERSION from crates.io"
        grep -qs "\"package\":\"$RQUICKJS_SYS_SHA256\"" "$pkg/.cargo-checksum.json" ||
            die "rquickjs-sys $RQUICKJS_SYS_VERSION does not have the pinned checksum"
    fi
    local version
    version=$(sed -n 's/^#define QJS_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' \
        "$pkg/quickjs/quickjs.h" | paste -sd.)
    [[ $version == "$QUICKJS_NG_VERSION" ]] ||
        die "rquickjs-sys $RQUICKJS_SYS_VERSION carries QuickJS-ng '$version', expected $QUICKJS_NG_VERSION"
    echo "$pkg/quickjs"
}

# build WORK_DIR: compile and link into WORK_DIR/$OUT_NAME.
build() {
    local work=$1 upstream
    upstream=$(fetch_sources)

    # Scratch copy of the sources, patched (see guest/patches/).
    local src=$work/quickjs
    mkdir -p "$src" "$work/obj"
    cp "$upstream"/*.c "$upstream"/*.h "$src/"
    patch --quiet --fuzz=0 --no-backup-if-mismatch -d "$src" -p1 \
        <"$GUEST_DIR/patches/quickjs-wasi-stack-check.patch" ||
        die "the stack-check patch no longer applies to QuickJS-ng $QUICKJS_NG_VERSION"

    # A private sysroot of symlinks, so no host header (/usr/include) can
    # leak into the wasm build.
    local sysroot=$work/sysroot
    mkdir -p "$sysroot/include" "$sysroot/lib"
    ln -s "$WASI_INCLUDE" "$sysroot/include/wasm32-wasi"
    ln -s "$WASI_LIB" "$sysroot/lib/wasm32-wasi"

    local common=(--target=wasm32-wasi --sysroot="$sysroot")
    local cflags=(
        "${common[@]}" -O2 -c
        -D_GNU_SOURCE
        -DJS_DEFAULT_STACK_SIZE="$DEFAULT_MAX_STACK_BYTES"
        -DSF_SHADOW_STACK_BYTES="$SHADOW_STACK_BYTES"
        -I"$src"
        # Reproducible: no absolute paths in __FILE__ (asserts) or elsewhere.
        -ffile-prefix-map="$src"=quickjs
        -ffile-prefix-map="$GUEST_DIR"=guest
        -ffile-prefix-map="$sysroot"=wasi-sysroot
        -Wno-implicit-const-int-float-conversion
    )
    # Compile and link in separate steps: with an -O flag on the link line
    # clang would run wasm-opt when binaryen happens to be installed.
    local f objs=()
    for f in dtoa libregexp libunicode quickjs; do
        "$CLANG" "${cflags[@]}" "$src/$f.c" -o "$work/obj/$f.o"
        objs+=("$work/obj/$f.o")
    done
    # C23 for #embed (the driver embeds src/validate_assert.js).
    "$CLANG" "${cflags[@]}" -std=c23 -Wall -Wextra -Werror "$GUEST_DIR/driver.c" -o "$work/obj/driver.o"
    objs+=("$work/obj/driver.o")

    "$CLANG" "${common[@]}" -o "$work/$OUT_NAME" "${objs[@]}" \
        -Wl,--stack-first \
        -Wl,-z,stack-size="$SHADOW_STACK_BYTES" \
        -Wl,--strip-debug
}

main() {
    local mode=${1:-build}
    case $mode in
    build | --check) ;;
    *) die "usage: guest/build.sh [--check]" ;;
    esac
    check_toolchain
    work=$(mktemp -d "${TMPDIR:-/tmp}/skillforge-guest.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    build "$work"
    if [[ $mode == --check ]]; then
        [[ -f $GUEST_DIR/$OUT_NAME ]] || die "guest/$OUT_NAME is missing; run guest/build.sh"
        (cd "$GUEST_DIR" && sha256sum --quiet -c "$OUT_NAME.sha256") ||
            die "guest/$OUT_NAME.sha256 does not match guest/$OUT_NAME"
        cmp -s "$work/$OUT_NAME" "$GUEST_DIR/$OUT_NAME" ||
            die "a fresh build differs from the committed guest/$OUT_NAME
    committed: $(sha256sum <"$GUEST_DIR/$OUT_NAME" | cut -d' ' -f1)
    rebuilt:   $(sha256sum <"$work/$OUT_NAME" | cut -d' ' -f1)
run guest/build.sh and commit the result (or check the toolchain versions in guest/README.md)"
        echo "guest/$OUT_NAME is up to date ($(cut -d' ' -f1 "$GUEST_DIR/$OUT_NAME.sha256"))"
    else
        cp "$work/$OUT_NAME" "$GUEST_DIR/$OUT_NAME"
        (cd "$GUEST_DIR" && sha256sum "$OUT_NAME" >"$OUT_NAME.sha256")
        echo "wrote guest/$OUT_NAME ($(wc -c <"$GUEST_DIR/$OUT_NAME") bytes, sha256 $(cut -d' ' -f1 "$GUEST_DIR/$OUT_NAME.sha256"))"
    fi
}

main "$@"
