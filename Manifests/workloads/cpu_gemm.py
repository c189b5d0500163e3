"""CPU matrix product (float64) through numpy: GFLOP/s per repetition."""
import time

import numpy as np

from common import args, report, wait_for

a = args()
n = a.size or 768
rng = np.random.default_rng(0)
x, y = rng.standard_normal((n, n)), rng.standard_normal((n, n))
for _ in range(a.warmups):
    x @ y
wait_for(a.start_at)
for rep in range(a.repetitions):
    start = time.perf_counter()
    x @ y
    seconds = time.perf_counter() - start
    report("gflops", 2 * n**3 / seconds / 1e9, rep=rep)
