#!/usr/bin/env bash
# paas-shim --tty: the shim takes the pty master from the runtime (--console-socket), logs the
# terminal's output as stdout, and serves STATE/attach.sock: a client resizes the terminal,
# types into it and reads what it shows until the container exits. Runs once per available
# runtime. The attach client is a few lines of perl speaking the framing of src/shim/README.md.
set -u
. "$(dirname "$0")/shim-lib.sh"
shim_setup
skip_missing_runtimes
mkdir -p "$ROOTFS/dev/pts"
for c in tty stty; do ln -sf busybox "$ROOTFS/bin/$c"; done

# attach SOCKET ROWS COLS INPUT [RAW-FRAME]: sends a resize (ROWS > 0), INPUT as a data frame
# and RAW-FRAME as is, half-closes, prints what comes back until EOF (at most 15 s).
attach() {
  perl -MIO::Socket::UNIX -e '
    my ($path, $rows, $cols, $input, $raw) = @ARGV;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or die "connect $path: $!\n";
    print $s pack("Cnnn", ord("w"), 4, $rows, $cols) if $rows > 0;
    print $s pack("Cn", ord("d"), length $input) . $input if length $input;
    print $s $raw if defined $raw;
    shutdown($s, 1);
    $SIG{ALRM} = sub { exit 3 }; alarm 15;
    while (sysread($s, my $buf, 4096)) { print $buf }' "$@"
}

while read -r rt _; do
  diag_mark "$rt"
  make_bundle "$rt" tty '["sh","-c","read x; tty; stty size; echo got:$x; exit 3"]' \
    '.process.terminal=true' >/dev/null
  start_shim "$rt" tty --tty
  check "[$rt] shim with --tty starts (got: ${SHIM_OUT:0:200})" test "$SHIM_RC" = 0
  dir=$(state_dir "$rt" tty)
  check "[$rt] console socket gone once the terminal was received" test ! -e "$dir/console.sock"
  out=$(attach "$dir/attach.sock" 40 100 $'hello\n' | tr -d '\r')
  want=$'hello\n/dev/pts/0\n40 100\ngot:hello'
  check "[$rt] attach: resize and input reach the process, its output comes back (got: $(tr '\n' '|' <<<"$out"))" \
    test "$out" = "$want"
  wait_until 10 shim_gone "$rt" tty
  log=$(jq -r 'select(.s=="stdout") | .l' "$dir/container.log" | tr -d '\r')
  check "[$rt] the terminal's output is logged as stdout (got: $(tr '\n' '|' <<<"$log"))" \
    test "$log" = "$want"
  check "[$rt] exit code passes through" test "$(jfield "$dir/exit.json" .exitCode)" = 3
  check "[$rt] attach socket removed when the shim exits" test ! -e "$dir/attach.sock"

  # A malformed frame disconnects that client only; the next one works.
  make_bundle "$rt" bad '["sh","-c","read x; echo got:$x"]' '.process.terminal=true' >/dev/null
  start_shim "$rt" bad --tty
  dir=$(state_dir "$rt" bad)
  out=$(attach "$dir/attach.sock" 0 0 '' $'x\x01\x01'; echo "rc=$?")
  check "[$rt] malformed frame: client disconnected (got: $out)" test "$out" = "rc=0"
  check "[$rt] malformed frame: the container still runs" status_is "$rt" bad running
  out=$(attach "$dir/attach.sock" 0 0 $'again\n' | tr -d '\r')
  check "[$rt] next client works (got: $(tr '\n' '|' <<<"$out"))" test "$out" = $'again\ngot:again'
  wait_until 10 shim_gone "$rt" bad

  # --tty for a config without a terminal: the runtime refuses the console socket.
  make_bundle "$rt" notty '["true"]' >/dev/null
  start_shim "$rt" notty --tty
  check "[$rt] --tty without process.terminal: start fails (got: ${SHIM_OUT:0:200})" \
    test "$SHIM_RC" != 0 -a "${SHIM_OUT#paas-shim: create container}" != "$SHIM_OUT"
  check "[$rt] ... and leaves no console socket" test ! -e "$(state_dir "$rt" notty)/console.sock"

  check "[$rt] nothing left" leftovers "$rt"
done < <(shim_runtimes)

start_shim paas-runtime both --tty --stdin
check "--tty with --stdin refused (got: $SHIM_OUT)" \
  test "$SHIM_RC" != 0 -a "$SHIM_OUT" = "paas-shim: \`--stdin\` with \`--tty\`: a terminal's input comes through the attach socket"

diag_mark
exit 0
