#!/usr/bin/env bash
# The router against nginx, side by side in one run, over loopback only. One backend, nginx
# serving a small static file (C, so that it is not the bottleneck), reached three ways:
#   direct       wrk -> backend
#   paas router  wrk -> apps/proxy (PAAS_ROUTER_WORKERS workers, access log off; and on, to /dev/null)
#   http-proxy   wrk -> http-proxy alone, same workers and agent (e2e/bench/proxy/bare-http-proxy.ts):
#                the floor under the router, so that the table says what is ours and what is Node's
#   nginx        wrk -> nginx proxy_pass (worker_processes = WORKERS, upstream keepalive) -> backend
# Each is measured loaded (wrk -c CONNECTIONS: requests/s, p50, p99) and unloaded (one
# connection: p50, p99, what a request pays for the extra hop). RUNS runs of each, interleaved;
# the table shows medians. Then over TLS, the router's HTTPS listener against an nginx `ssl`
# server with the same certificate (ECDSA P-256, made here): requests/s over keep-alive TLS,
# and new connections/s with `Connection: close` (one full handshake and one request each). Targets: the router within 2x of nginx's requests/s and
# adding under 1 ms of p50 latency.
#   RUNS=3 DURATION=5s CONNECTIONS=50 THREADS=2 WORKERS=$(nproc) e2e/bench/proxy.sh
# nginx and wrk are Debian packages, installed here when missing (no service is started).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-$(nproc)}
HOST=bench.localhost

install_missing() {
  local missing=()
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)
  [ ${#missing[@]} -eq 0 ] && return
  [ "$(id -u)" = 0 ] || { echo "${missing[*]} missing; run as root to install them" >&2; exit 1; }
  echo "installing ${missing[*]}" >&2
  # Keep the package from starting a system nginx on port 80.
  local policy=/usr/sbin/policy-rc.d added=
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && added=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
  if [ -n "$added" ]; then rm -f $policy; fi
}
install_missing
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/paas-bench-proxy.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}
wait_port() {
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on 127.0.0.1:$1; see $work" >&2
  exit 1
}

backend_port=$(free_port)
nginx_port=$(free_port)
nginx_tls_port=$(free_port)
router_port=$(free_port)
router_tls_port=$(free_port)
router_log_port=$(free_port)
bare_port=$(free_port)

# One certificate for both TLS servers (the router's default pair, nginx's ssl_certificate).
mkdir -p "$work/tls"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$HOST" \
  -addext "subjectAltName=DNS:$HOST" -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" 2>/dev/null
chmod 644 "$work/tls/key.pem"

# ---- the backend and the nginx proxy, each an nginx master in the foreground ----
mkdir -p "$work/www" "$work/backend" "$work/nginx"
printf 'Hello from the backend\n' >"$work/www/index.html"
chmod -R a+rX "$work/www"
common="error_log $work/%s/error.log warn; pid $work/%s/nginx.pid; daemon off;
events { worker_connections 4096; }"
temp_paths() {
  local d=$work/$1
  echo "client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;
    uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi; access_log off;"
}
cat >"$work/backend/nginx.conf" <<EOF
$(printf "$common" backend backend)
worker_processes 1;
http {
  $(temp_paths backend)
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$backend_port; root $work/www; location / { index index.html; } }
}
EOF
proxied="location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Request-Id \$request_id;
    }"
cat >"$work/nginx/nginx.conf" <<EOF
$(printf "$common" nginx nginx)
worker_processes $WORKERS;
http {
  $(temp_paths nginx)
  keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$backend_port; keepalive 256; }
  server { listen 127.0.0.1:$nginx_port; $proxied }
  server {
    listen 127.0.0.1:$nginx_tls_port ssl;
    ssl_certificate $work/tls/cert.pem;
    ssl_certificate_key $work/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    $proxied
  }
}
EOF
"$NGINX" -e "$work/backend/error.log" -p "$work/backend" -c "$work/backend/nginx.conf" &
pids+=($!)
"$NGINX" -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=($!)

# ---- our router: its own redis-server for the route table, then the bundle ----
node tools/build.mjs proxy apps/proxy
redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
  --daemonize no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 1 100); do [ -S "$work/redis.sock" ] && break; sleep 0.1; done
redis_url=unix://$work/redis.sock
node --import tsx e2e/bench/proxy/routes.ts "$redis_url" bench "127.0.0.1:$backend_port" >&2
start_router() { # PORT ACCESS_LOG LOGFILE TLS_ADDR
  REDIS_URL=$redis_url PAAS_ROOT=$work/root PAAS_RUN=$work/run PAAS_DOMAIN=localhost \
    PAAS_ROUTER_ADDR=127.0.0.1:$1 PAAS_ROUTER_ADMIN_ADDR=off PAAS_ROUTER_WORKERS=$WORKERS \
    PAAS_ROUTER_TLS_ADDR=$4 PAAS_ROUTER_TLS_CERT=$work/tls/cert.pem PAAS_ROUTER_TLS_KEY=$work/tls/key.pem \
    PAAS_ROUTER_ACCESS_LOG=$2 node dist/apps/proxy/main.js >/dev/null 2>"$3" &
  pids+=($!)
}
start_router "$router_port" off "$work/router.log" "127.0.0.1:$router_tls_port"
start_router "$router_log_port" on "$work/router-log.log" off
node --import tsx e2e/bench/proxy/bare-http-proxy.ts "$bare_port" "127.0.0.1:$backend_port" "$WORKERS" \
  >/dev/null 2>"$work/bare.log" &
pids+=($!)
for port in $backend_port $nginx_port $nginx_tls_port $router_port $router_tls_port $router_log_port $bare_port; do
  wait_port "$port"
done
for log in "$work/router.log" "$work/router-log.log"; do
  for _ in $(seq 1 100); do grep -q 'proxy listening on' "$log" && break; sleep 0.1; done
  grep -q 'proxy listening on' "$log" || { cat "$log" >&2; exit 1; }
done

# Every path answers the same body before anything is measured.
expected=$(cat "$work/www/index.html")
for port in $backend_port $router_port $router_log_port $bare_port $nginx_port; do
  body=$(node -e "
    require('http').get({host:'127.0.0.1',port:$port,path:'/',headers:{host:'$HOST'}},(r)=>{
      let b='';r.on('data',(c)=>b+=c);r.on('end',()=>{process.stdout.write(r.statusCode+' '+b)})})")
  [ "$body" = "200 $expected" ] || { echo "127.0.0.1:$port answered: $body" >&2; exit 1; }
done
for port in $router_tls_port $nginx_tls_port; do
  status=$(curl -sS --cacert "$work/tls/cert.pem" --resolve "$HOST:$port:127.0.0.1" -o "$work/tls/body" \
    -w '%{http_code}' "https://$HOST:$port/")
  body=$(cat "$work/tls/body")
  [ "$status $body" = "200 $expected" ] || { echo "https://127.0.0.1:$port answered: $status $body" >&2; exit 1; }
done

# ---- measuring ----
# wrk's summary as "requests/s p50_ms p99_ms errors".
measure() { # PORT THREADS CONNECTIONS [SCHEME [WRK ARGS...]]
  local port=$1 threads=$2 connections=$3 scheme=${4:-http}
  shift $(($# < 4 ? $# : 4))
  wrk -t"$threads" -c"$connections" -d"$DURATION" --latency -H "Host: $HOST" "$@" "$scheme://127.0.0.1:$port/" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) errors += $i }
    END { printf "%s %s %s %d\n", rps, p50, p99, errors }'
}
names=(direct router router_log bare nginx)
declare -A port_of=([direct]=$backend_port [router]=$router_port [router_log]=$router_log_port [bare]=$bare_port [nginx]=$nginx_port)
declare -A label=([direct]="direct to the backend" [router]="paas router ($WORKERS workers)"
  [router_log]="paas router ($WORKERS workers), access log on"
  [bare]="http-proxy alone ($WORKERS workers; nothing of ours)" [nginx]="nginx proxy_pass ($WORKERS workers)")
for name in "${names[@]}"; do wrk -t1 -c8 -d1s -H "Host: $HOST" "http://127.0.0.1:${port_of[$name]}/" >/dev/null; done # warm-up
tls_names=(router_tls nginx_tls)
declare -A tls_port_of=([router_tls]=$router_tls_port [nginx_tls]=$nginx_tls_port)
label[router_tls]="paas router ($WORKERS workers), TLS"
label[nginx_tls]="nginx ssl + proxy_pass ($WORKERS workers)"
for name in "${tls_names[@]}"; do wrk -t1 -c8 -d1s -H "Host: $HOST" "https://127.0.0.1:${tls_port_of[$name]}/" >/dev/null; done
for run in $(seq 1 "$RUNS"); do
  for name in "${names[@]}"; do
    echo "run $run/$RUNS: $name" >&2
    measure "${port_of[$name]}" "$THREADS" "$CONNECTIONS" >>"$work/$name.loaded"
    measure "${port_of[$name]}" 1 1 >>"$work/$name.single"
  done
  for name in "${tls_names[@]}"; do
    echo "run $run/$RUNS: $name" >&2
    measure "${tls_port_of[$name]}" "$THREADS" "$CONNECTIONS" https >>"$work/$name.loaded"
    measure "${tls_port_of[$name]}" "$THREADS" "$CONNECTIONS" https -H 'Connection: close' >>"$work/$name.handshakes"
  done
done

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{ print $c }' "$1" | median; }
errors() { cat "$work/$1".{loaded,single,handshakes} 2>/dev/null | awk '{ e += $4 } END { print e + 0 }'; }

echo
echo "wrk $DURATION per run, medians of $RUNS runs; loaded: -t$THREADS -c$CONNECTIONS; unloaded: one connection; $(nproc) CPUs"
echo
echo "| path | requests/s | p50 ms | p99 ms | unloaded p50 ms | unloaded p99 ms | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for name in "${names[@]}"; do
  printf '| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %s |\n' "${label[$name]}" \
    "$(col "$work/$name.loaded" 1)" "$(col "$work/$name.loaded" 2)" "$(col "$work/$name.loaded" 3)" \
    "$(col "$work/$name.single" 2)" "$(col "$work/$name.single" 3)" "$(errors "$name")"
done
echo
awk -v r="$(col "$work/router.loaded" 1)" -v n="$(col "$work/nginx.loaded" 1)" -v d="$(col "$work/direct.loaded" 1)" \
  -v b="$(col "$work/bare.loaded" 1)" \
  -v rp="$(col "$work/router.single" 2)" -v np="$(col "$work/nginx.single" 2)" -v dp="$(col "$work/direct.single" 2)" '
  BEGIN {
    printf "- throughput: router / nginx = %.2fx (target >= 0.50x), router / direct = %.2fx, nginx / direct = %.2fx\n", r / n, r / d, n / d
    printf "- the floor: http-proxy alone / nginx = %.2fx; router / http-proxy alone = %.2fx (what is ours)\n", b / n, r / b
    printf "- added p50, one connection: router +%.3f ms (target < 1 ms), nginx +%.3f ms\n", rp - dp, np - dp
  }'
echo
echo "over TLS (same certificate; wrk -t$THREADS -c$CONNECTIONS):"
echo
echo "| path | keep-alive requests/s | p50 ms | p99 ms | new connections/s (handshake + request) | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for name in "${tls_names[@]}"; do
  printf '| %s | %.0f | %.3f | %.3f | %.0f | %s |\n' "${label[$name]}" \
    "$(col "$work/$name.loaded" 1)" "$(col "$work/$name.loaded" 2)" "$(col "$work/$name.loaded" 3)" \
    "$(col "$work/$name.handshakes" 1)" "$(errors "$name")"
done
echo
awk -v r="$(col "$work/router_tls.loaded" 1)" -v n="$(col "$work/nginx_tls.loaded" 1)" \
  -v rh="$(col "$work/router_tls.handshakes" 1)" -v nh="$(col "$work/nginx_tls.handshakes" 1)" '
  BEGIN { printf "- TLS: router / nginx = %.2fx keep-alive, %.2fx new connections\n", r / n, rh / nh }'
