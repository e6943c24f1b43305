#!/usr/bin/env bash
# Brings a Debian 12 machine (as root) or a checkout up to date: system packages, npm
# dependencies, the native build and the TypeScript build. Idempotent; each step checks
# first and does nothing when its inputs have not changed, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

step() { printf 'bootstrap: %s\n' "$*"; }

# --- system packages -------------------------------------------------------------------
# Who needs what: native/ builds with build-essential, pkg-config, libseccomp-dev and
# libjansson-dev; containers need iproute2, iptables, ipset (the bridge's isolation set) and
# busybox-static (base image);
# the platform needs git, redis-server and postgresql (the API tests run on it too); crun,
# runc and hyperfine are the side-by-side peers of the runtime tests and benchmarks; clang runs the native fuzzers; skopeo
# and umoci read and write our image archives in the interop tests; chromium runs the
# dashboard's browser tests; pebble is the ACME server the certificate tests obtain from.
packages=(
  build-essential pkg-config libseccomp-dev libjansson-dev
  iproute2 iptables ipset busybox-static git redis-server postgresql
  crun runc hyperfine clang skopeo umoci zstd chromium pebble
)
missing=()
while read -r pkg status; do
  [ "$status" = "installed" ] || missing+=("$pkg")
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${db:Status-Status}' "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  step "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi

# --- npm dependencies ------------------------------------------------------------------
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.paas-lock-sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" >"$stamp"
fi

# --- native ----------------------------------------------------------------------------
make -s -C native

# --- TypeScript (type-check, bundle; Nx caches unchanged projects) ---------------------
# Nx alone needs seconds to build its project graph, so a stamp skips it when no source,
# config or lock file is newer than the last successful build.
stamp=dist/.build-stamp
sources=(apps libs tools e2e nx.json tsconfig.base.json tsconfig.json package-lock.json eslint.config.mjs)
if [ ! -f "$stamp" ] || [ -n "$(find "${sources[@]}" -newer "$stamp" -not -path '*/node_modules/*' -not -path 'e2e/artifacts/*' -print -quit)" ]; then
  npx nx run-many -t build --outputStyle=static >/tmp/paas-bootstrap-build.log 2>&1 || {
    cat /tmp/paas-bootstrap-build.log >&2
    echo "bootstrap: the TypeScript build failed" >&2
    exit 1
  }
  touch "$stamp"
fi

# --- base images (in PAAS_ROOT, default /var/lib/paas) -----------------------------------
missing_images=()
for image in busybox node; do
  [ -n "$(bin/paas images -q "$image")" ] || missing_images+=("$image")
done
if [ ${#missing_images[@]} -gt 0 ]; then
  step "base images: ${missing_images[*]}"
  bin/paas image bootstrap "${missing_images[@]}" >/dev/null
fi
step "ready"
