#!/usr/bin/env bash
# How much one node holds, part by part. Each part is a function `part_<name>` below; later
# parts (the platform's scale through the router) add their own function and usage line.
#
#   e2e/bench/capacity.sh engine [N]   N (default 100) busybox `httpd -f` containers started
#                                      one after another with `paas run -d` on a bridge, then
#                                      the same with `podman run -d` (if podman is installed and
#                                      runs here), side by side in one run
#   e2e/bench/capacity.sh platform [N] the whole platform on a real `paas up`: a Node app
#                                      1 -> 10, busybox httpd 1 -> N (default 1000) at the
#                                      smallest size through the router, CPU at rest, N -> 1
#                                      (e2e/bench/capacity-platform.ts)
#
# ISOLATED=1 starts the paas containers as the platform starts an app's instances (label
# paas.app: cut off from each other by bridge port isolation and the PAAS-ISO ipset).
#
# Reports per contender: total start time, median and Nth per-start time, memory per instance
# (MemAvailable drop / N, and the PSS/RSS of the per-instance supervisor, paas-shim or conmon,
# without the app itself), and the time of `ps` with N running. Needs root and jq. On a
# shared machine the MemAvailable drop moves with everything else running: read it at large N.
#
# Everything is private to the run: PAAS_ROOT/PAAS_RUN and podman's store under one temp dir,
# a bridge and subnet of its own for each engine (nothing routes out: the containers are only
# ever reached from this host). Every container, netns, veth, cgroup and mount is removed on
# exit, also after a failure or Ctrl-C; each engine command has a time limit, so the run
# stops by itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
paas=$repo/bin/paas

die() {
  echo "capacity: $*" >&2
  exit 1
}
usage() { sed -n "5,12p" "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root"
command -v jq >/dev/null || die "jq is missing (apt-get install jq)"

work=$(mktemp -d /var/tmp/paas-bench-capacity.XXXXXX)
chmod 755 "$work"
CLEANUPS=()
cleanup() {
  local i
  set +e
  # last registered, first run
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

avail_kb() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
now_ns() { date +%s%N; }
# kB of PSS and RSS summed over PIDS (smaps_rollup: shared pages are split among sharers).
mem_of() {
  local pss=0 rss=0 p a b
  for p in "$@"; do
    read -r a b < <(awk '/^Pss:/ {p=$2} /^Rss:/ {r=$2} END {print p+0, r+0}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0 0)
    pss=$((pss + a)) rss=$((rss + b))
  done
  echo "$pss $rss"
}
# median of numbers, one a line
median() { sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# measure LABEL N START SUPERVISORS APPS PS: starts N containers with the function START
# (given the index), timing each start, then appends one table row to $work/rows. SUPERVISORS
# and APPS print the pids of the shims (conmons) and of the apps, PS lists what runs.
measure() {
  local label=$1 n=$2 start_fn=$3 sup_fn=$4 app_fn=$5 ps_fn=$6
  local before after t0 t1 s e i times=$work/$label.times running sup app
  : >"$times"
  sync
  before=$(avail_kb)
  t0=$(now_ns)
  for i in $(seq 1 "$n"); do
    s=$(now_ns)
    "$start_fn" "$i" >/dev/null || die "$label: start $i of $n failed"
    e=$(now_ns)
    echo $(((e - s) / 1000000)) >>"$times"
  done
  t1=$(now_ns)
  sleep 2 # let the last starts settle before reading memory
  after=$(avail_kb)
  s=$(now_ns)
  running=$("$ps_fn" | wc -l)
  e=$(now_ns)
  [ "$running" -eq "$n" ] || die "$label: $running of $n running"
  read -r sup_pss sup_rss < <(mem_of $("$sup_fn"))
  read -r app_pss _ < <(mem_of $("$app_fn"))
  awk -v l="$label" -v n="$n" -v t="$(((t1 - t0) / 1000000))" -v med="$(median <"$times")" \
    -v last="$(tail -1 "$times")" -v b="$before" -v a="$after" -v sp="$sup_pss" -v sr="$sup_rss" \
    -v ap="$app_pss" -v ps="$(((e - s) / 1000000))" 'BEGIN {
      printf "| %s | %d | %.1f s | %d ms | %d ms | %.2f MiB | %.2f / %.2f MiB | %.2f MiB | %d ms |\n",
        l, n, t / 1000, med, last, (b - a) / 1024 / n, sp / 1024 / n, sr / 1024 / n, ap / 1024 / n, ps }' \
    >>"$work/rows"
}

# --- engine: paas run -d vs podman run -d --------------------------------------------------

part_engine() {
  local n=$1
  # a bridge holds at most 1024 ports (BR_MAX_PORTS); the subnet below holds 4094 addresses
  [ "$n" -le 1000 ] || die "N is at most 1000 (a Linux bridge takes 1024 ports)"
  local pid_max in_use
  pid_max=$(cat /proc/sys/kernel/pid_max)
  in_use=$(ls /proc | grep -c '^[0-9]')
  [ $((in_use + 3 * n + 200)) -lt "$pid_max" ] || die "needs ~$((3 * n)) more pids (pid_max=$pid_max, $in_use in use)"
  [ -x "$paas" ] && [ -f "$repo/dist/apps/cli/main.js" ] || die "build the CLI: npx nx run cli:build"

  # paas: its own root, run dir, bridge and subnet
  export PAAS_ROOT=$work/paas-root PAAS_RUN=$work/paas-run
  export PAAS_BRIDGE=pcap$(($$ % 100000)) PAAS_SUBNET=10.197.0.0/20
  CLEANUPS+=('paas_clean')
  "$paas" image bootstrap busybox >/dev/null || die "cannot make the busybox image"
  "$paas" save busybox -o "$work/busybox.tar" || die "cannot save the busybox image"

  echo "| engine | N | total start | median start | start N | memory per instance (MemAvailable drop) | supervisor PSS / RSS per instance | app PSS per instance | ps with N running |" >"$work/rows"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |" >>"$work/rows"

  measure "paas run -d${ISOLATED:+ (isolated)}" "$n" paas_start paas_shims paas_apps paas_ps
  paas_check_serving
  paas_clean

  if podman_ready; then
    measure 'podman run -d' "$n" podman_start podman_conmons podman_apps podman_ps
    podman_clean
  fi
  echo
  cat "$work/rows"
}

paas_start() {
  timeout 60 "$paas" run -d --name "cap-$1" ${ISOLATED:+-l paas.app=capacity} busybox httpd -f -p 80 -h /etc
}
paas_ps() { timeout 120 "$paas" ps -q; }
paas_shims() { cat "$PAAS_ROOT"/containers/*/shim/shim.pid 2>/dev/null; }
paas_apps() {
  local f
  for f in "$PAAS_ROOT"/containers/*/shim/status.json; do jq -r '.pid // empty' "$f" 2>/dev/null; done
}
# The last container answers on its bridge address from the host (as the router reaches it).
paas_check_serving() {
  local ip id
  id=$("$paas" inspect -f '{{.Id}}' "cap-$n" 2>/dev/null) || die "inspect cap-$n"
  ip=$("$paas" inspect -f '{{.NetworkSettings.IPAddress}}' "cap-$n" 2>/dev/null) || die "inspect cap-$n"
  [ "$(timeout 10 busybox wget -q -O - "http://$ip:80/hostname" 2>/dev/null)" = "$(cut -c1-12 <<<"$id")" ] ||
    die "cap-$n does not answer at $ip:80"
}
paas_clean() {
  [ -d "${PAAS_ROOT:-/nonexistent}/containers" ] || return 0
  local ids
  ids=$(timeout 120 "$paas" ps -aq 2>/dev/null || true)
  [ -z "$ids" ] || timeout 600 "$paas" rm -f $ids >/dev/null 2>&1 || true
  timeout 120 "$paas" network prune >/dev/null 2>&1 || true
  ip link del "$PAAS_BRIDGE" 2>/dev/null || true
  rm -rf "$PAAS_ROOT"
}

# podman from Debian (CNI backend): the network's config in a private --network-config-dir,
# its bridge renamed to one of ours; host-local's leases and the CNI firewall chains it adds
# to the host are removed afterwards. The parent cgroup it makes goes too. Its default nofile (1048576) is above this host's hard
# limit, so the containers get paas's 16384.
podman_ready() {
  command -v podman >/dev/null || { echo "podman: not installed (apt-get install podman); paas only" >&2; return 1; }
  PODMAN_NET=pcapnet$$ PODMAN_BRIDGE=pcapp$(($$ % 100000))
  podman=(podman --root "$work/podman" --runroot "$work/podman-run" --runtime runc --cgroup-manager cgroupfs
    --network-config-dir "$work/cni" --log-level error)
  iptables -S CNI-FORWARD >/dev/null 2>&1 && CNI_CHAINS_BEFORE=1 || CNI_CHAINS_BEFORE=
  [ -d /sys/fs/cgroup/memory/libpod_parent ] && LIBPOD_CGROUP_BEFORE=1 || LIBPOD_CGROUP_BEFORE=
  CLEANUPS+=('podman_clean')
  "${podman[@]}" load -q -i "$work/busybox.tar" >/dev/null 2>&1 || { echo "podman: cannot load the image" >&2; return 1; }
  mkdir -p "$work/cni"
  "${podman[@]}" network create --subnet 10.198.0.0/20 "$PODMAN_NET" >/dev/null || return 1
  local conf=$work/cni/$PODMAN_NET.conflist
  jq --arg b "$PODMAN_BRIDGE" '.plugins[0].bridge = $b' "$conf" >"$conf.new" && mv "$conf.new" "$conf"
}
podman_start() {
  timeout 60 "${podman[@]}" run -d --name "cap-$1" --network "$PODMAN_NET" \
    --ulimit nofile=16384:16384 --ulimit nproc=1024:1024 docker.io/library/busybox httpd -f -p 80 -h /etc
}
podman_ps() { timeout 120 "${podman[@]}" ps -q; }
podman_inspect() { "${podman[@]}" ps -q | xargs -r "${podman[@]}" inspect --format "$1"; }
podman_conmons() { podman_inspect '{{.State.ConmonPid}}'; }
podman_apps() { podman_inspect '{{.State.Pid}}'; }
podman_clean() {
  [ -n "${PODMAN_NET:-}" ] || return 0
  timeout 600 "${podman[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  timeout 60 "${podman[@]}" network rm -f "$PODMAN_NET" >/dev/null 2>&1 || true
  timeout 60 "${podman[@]}" rmi -af >/dev/null 2>&1 || true
  rm -rf "/var/lib/cni/networks/$PODMAN_NET" || true
  ip link del "$PODMAN_BRIDGE" 2>/dev/null || true
  if [ -z "$CNI_CHAINS_BEFORE" ] && [ -z "$(iptables -S CNI-FORWARD 2>/dev/null | grep -v -e '^-N' -e 'CNI-ADMIN')" ]; then
    iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD 2>/dev/null || true
    iptables -F CNI-FORWARD 2>/dev/null && iptables -X CNI-FORWARD 2>/dev/null && iptables -X CNI-ADMIN 2>/dev/null || true
  fi
  # the parent cgroup podman's cgroupfs manager makes, if this run made it
  if [ -z "$LIBPOD_CGROUP_BEFORE" ]; then
    for d in /sys/fs/cgroup/*/libpod_parent; do
      [ ! -d "$d" ] || find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  fi
  PODMAN_NET=
}

case "${1:-}" in
  engine)
    n=${2:-100}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] || die "N must be a positive integer, not '$n'"
    part_engine "$n"
    ;;
  platform)
    n=${2:-1000}
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 1 ] || die "N must be a whole number above 1, not '$n'"
    # its own temp roots and clean-up (the traps above have nothing to do for it)
    (cd "$repo" && node --import tsx e2e/bench/capacity-platform.ts "$n")
    ;;
  *) usage ;;
esac
