"""glmark2 (Debian's glmark2-x11: OpenGL through GLX) rendering off-screen on a private Xvfb, no display needed:
one fixed scene a repetition, for --seconds of wall-clock time (or the co-tenants' window). glmark2's own lines go
to the output as they are, its GL_RENDERER header included; the profile's regex reads their "FPS: N".

Warm-ups are runs of their own (1 s each) before the barrier, so the measured runs start after it; each run is a new
glmark2 process, which builds its context and scene before its clock starts. Xvfb and glmark2 die with this script
(a parent-death signal), so a timed-out or killed run leaves neither behind."""
import argparse
import ctypes
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile

from common import args, start

own = argparse.ArgumentParser(add_help=False)
own.add_argument("--scene", default="jellyfish", help="a glmark2 benchmark: scene(:option=value)*")
own.add_argument("--width", type=int, default=800)
own.add_argument("--height", type=int, default=600)
own.add_argument("--seconds", type=float, default=2.0, help="each repetition's length without a window")
mine, rest = own.parse_known_args()
a = args(rest)
if min(mine.width, mine.height) < 1 or not 0 < mine.seconds <= 600 or not mine.scene or mine.scene.startswith("-"):
    sys.exit("glmark2: --width and --height must be positive, --seconds in (0, 600], --scene a glmark2 benchmark")
# SIGTERM (forbc's timeout) unwinds through the finally below and subprocess.run's own clean-up. A process inherits
# the signal mask of the thread that started it: forbc's co-tenants started from its worker threads (and processes
# started under swift test) come with SIGTERM blocked, and so would Xvfb, which then outlives a terminate():
# unblocked here, for this script and its children.
signal.pthread_sigmask(signal.SIG_SETMASK, set())
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
scene = mine.scene.split(":")[0]


def with_parent():
    """In the child before exec: it gets SIGTERM when this script dies, however it dies (PR_SET_PDEATHSIG)."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def need(program: str, package: str) -> str:
    path = shutil.which(program)
    if path is None:
        print(f"glmark2: '{program}' is not installed; on Debian: apt-get install {package}", file=sys.stderr)
        sys.exit(2)
    return path


def start_xvfb(log):
    """A private X server on a display number it picks itself (-displayfd), or exit 2 saying why not."""
    read, write = os.pipe()
    server = subprocess.Popen(
        [need("Xvfb", "xvfb"), "-displayfd", str(write), "-screen", "0", f"{mine.width}x{mine.height}x24",
         "-nolisten", "tcp"],
        pass_fds=(write,), stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=with_parent)
    os.close(write)
    number = b""
    while select.select([read], [], [], 30)[0]:
        chunk = os.read(read, 16)
        number += chunk
        if not chunk or number.endswith(b"\n"):
            break
    os.close(read)
    if not number.strip().isdigit():
        server.kill()
        log.seek(0)
        print(f"glmark2: Xvfb did not start: {log.read().decode(errors='replace')[-400:]}", file=sys.stderr)
        sys.exit(2)
    return server, f":{number.strip().decode()}"


def check_scene(program: str) -> None:
    """glmark2 runs its whole default suite (minutes) in place of a scene it does not know: refuse one up front."""
    listed = subprocess.run([program, "-l"], stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    scenes = re.findall(r"^\[Scene\] (\S+)$", listed.stdout, re.MULTILINE)
    if scene not in scenes:
        print(f"glmark2: no scene '{scene}' in this glmark2; it has: {', '.join(scenes)}", file=sys.stderr)
        sys.exit(2)


def glmark2(display: str, seconds: float, count: int) -> str:
    """`count` runs of the scene, `seconds` each, in one glmark2 process: its output, or exit 3 with it when it
    failed or measured anything other than those runs."""
    command = [need("glmark2", "glmark2-x11"), "--off-screen", "-s", f"{mine.width}x{mine.height}"]
    command += ["-b", f"{mine.scene}:duration={seconds:g}"] * count
    done = subprocess.run(
        command, env={**os.environ, "DISPLAY": display}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=with_parent, timeout=60 + 2 * seconds * count)
    measured = re.findall(r"^\[(\S+)\] .*FPS: ", done.stdout, re.MULTILINE)
    if done.returncode != 0 or measured != [scene] * count:
        print(done.stdout, file=sys.stderr)
        print(f"glmark2: exited with status {done.returncode} and {len(measured)} FPS line(s) of '{scene}' "
              f"for {count} run(s)", file=sys.stderr)
        sys.exit(3)
    return done.stdout


check_scene(need("glmark2", "glmark2-x11"))
with tempfile.TemporaryFile() as xvfb_log:
    server, display = start_xvfb(xvfb_log)
    print(f"glmark2: on Xvfb display {display} (pid {server.pid})", flush=True)
    try:
        if a.warmups > 0:
            glmark2(display, 1, a.warmups)
        start(a)
        if a.repetitions > 0:
            print(glmark2(display, a.window if a.window > 0 else mine.seconds, a.repetitions), end="", flush=True)
    finally:
        server.terminate()
        server.wait()
