"""STREAM-like copy and triad on the CPU through numpy: GB/s (bytes read plus written) per repetition."""
import numpy as np

from common import args, report, seconds_per_step, start, window_times

a = args()
n = a.size or 8_000_000
b, c = np.ones(n), np.full(n, 2.0)
out = np.empty(n)
for _ in range(a.warmups):
    np.copyto(out, b)
start(a)
for rep in range(a.repetitions):
    copy = seconds_per_step(lambda: np.copyto(out, b), 1, a.window)
    copy_window = window_times()

    def triad_step():
        np.multiply(c, 3.0, out=out)
        out.__iadd__(b)

    triad = seconds_per_step(triad_step, 1, a.window)
    report("copy", 2 * 8 * n / copy / 1e9, rep=rep, **copy_window)
    report("triad", 3 * 8 * n / triad / 1e9, rep=rep, **window_times())
