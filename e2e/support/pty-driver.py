"""A terminal for e2e tests: runs a command on a new pty and plays a script against it.

    python3 pty-driver.py '{"argv": [...], "rows": 30, "cols": 100, "timeout": 60, "steps": [...]}'

Steps, in order:
  {"expect": REGEX}        wait until the output since the last match matches (re.S)
  {"send": TEXT}           type TEXT (as given: "\r" is Enter in a raw terminal)
  {"resize": [ROWS, COLS]} resize the terminal (the kernel sends SIGWINCH to the command)
  {"raw": true}            wait until the command put the terminal in raw mode (no ICANON)
  {"hangup": true}         close the terminal (the kernel sends SIGHUP to the command); the
                           last step: the driver waits for the command's end
Prints one JSON object: the exit status (128+N for signal N), the whole output, the first
step that failed (null if none) and whether the terminal's mode was restored at the end.
The command is killed if a step fails or the timeout passes; nothing outlives the driver.
"""
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    spec = json.loads(sys.argv[1])
    deadline = time.monotonic() + spec.get("timeout", 60)
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execvp(spec["argv"][0], spec["argv"])
        finally:
            os._exit(127)
    set_size(master, spec.get("rows", 24), spec.get("cols", 80))
    initial = termios.tcgetattr(master)
    output = b""
    seen = 0
    failed = None
    status = None

    def pump(wait):
        nonlocal output
        if master is None:
            time.sleep(wait)
            return False
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(master, 65536)
        except OSError:
            return False
        if not chunk:
            return False
        output += chunk
        return True

    for step in spec["steps"]:
        if "send" in step:
            os.write(master, step["send"].encode())
            continue
        if "resize" in step:
            set_size(master, *step["resize"])
            continue
        if "hangup" in step:
            os.close(master)
            master = None
            break
        ok = False
        alive = True
        while time.monotonic() < deadline:
            if "expect" in step:
                m = re.compile(step["expect"].encode(), re.S).search(output, seen)
                if m:
                    seen = m.end()
                    ok = True
                    break
            elif "raw" in step:
                if not termios.tcgetattr(master)[3] & termios.ICANON:
                    ok = True
                    break
            if not alive:
                break
            alive = pump(0.05)
        if not ok:
            failed = step
            break

    if failed is not None:
        os.kill(pid, signal.SIGKILL)
    while status is None:
        done, raw_status = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw_status)
            status = 128 - status if status < 0 else status
            break
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        pump(0.05)
    while master is not None and pump(0):
        if not select.select([master], [], [], 0)[0]:
            break
    restored = None
    if master is not None:
        try:
            now = termios.tcgetattr(master)
            restored = now[1] == initial[1] and now[3] == initial[3]
        except termios.error:
            pass
        os.close(master)
    print(json.dumps({"status": status, "output": output.decode("utf-8", "replace"), "failed": failed,
                      "restored": restored}))


main()
