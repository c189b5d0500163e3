"""CPU matrix product (float64) through numpy: GFLOP/s per repetition."""
import numpy as np

from common import args, report, seconds_per_step, start, window_times

a = args()
n = a.size or 768
rng = np.random.default_rng(0)
x, y = rng.standard_normal((n, n)), rng.standard_normal((n, n))
for _ in range(a.warmups):
    x @ y
start(a)
for rep in range(a.repetitions):
    seconds = seconds_per_step(lambda: x @ y, 1, a.window)
    report("gflops", 2 * n**3 / seconds / 1e9, rep=rep, **window_times())
