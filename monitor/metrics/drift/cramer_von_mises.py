"""Evidently's own two-sample Cramer-von Mises test (a copy of an older scipy version).

Evidently 0.7.23 does not call ``scipy.stats.cramervonmises_2samp``; it ships its
own ``_cvm_2samp``. We port it operation for operation so p-values agree exactly:
midranks of the pooled sample, the U statistic, then the exact distribution
(Xiao, Gordon & Yakovlev 2006) when neither sample has more than 20 values, and
otherwise Anderson's (1962) normalised statistic against the limiting distribution
of the one-sample statistic (Csorgo & Faraway 1996).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import gammaln, kv
from scipy.stats import rankdata

__all__ = ["cramer_von_mises_p_value"]

_EXACT_MAX_SIZE = 20


def cramer_von_mises_p_value(x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> tuple[float, float]:
    """Return ``(statistic T, p-value)`` for two samples of at least two values each.

    >>> t, p = cramer_von_mises_p_value(np.arange(6.0), np.arange(6.0) + 3)
    >>> round(p, 6)
    0.038971
    """
    xa = np.sort(np.asarray(x))
    ya = np.sort(np.asarray(y))
    nx, ny = len(xa), len(ya)
    ranks = rankdata(np.concatenate([xa, ya]), method="average")
    rx, ry = ranks[:nx], ranks[nx:]
    u = nx * np.sum((rx - np.arange(1, nx + 1)) ** 2)
    u += ny * np.sum((ry - np.arange(1, ny + 1)) ** 2)
    k, n_total = nx * ny, nx + ny
    t = u / (k * n_total) - (4 * k - 1) / (6 * n_total)
    if max(nx, ny) <= _EXACT_MAX_SIZE:
        return float(t), float(_exact_p_value(u, nx, ny))
    et = (1 + 1 / n_total) / 6
    vt = (n_total + 1.0) * (4 * k * n_total - 3 * (nx**2 + ny**2) - 2 * k)
    vt = vt / (45 * n_total**2 * 4 * k)
    tn = 1 / 6 + (t - et) / np.sqrt(45 * vt)
    # Below 0.003 the limiting cdf is under 1.3e-18: the p-value is 1.
    if tn < 0.003:
        return float(t), 1.0
    return float(t), float(max(0, 1.0 - _limiting_cdf(tn)))


def _exact_p_value(s: Any, m: int, n: int) -> Any:
    # Xiao et al. [1, p. 3-6]: frequency table of g^+_{u,v}, built row by row.
    lcm = np.lcm(m, n)
    a = lcm // m
    b = lcm // n
    mn = m * n
    zeta = lcm**2 * (m + n) * (6 * s - mn * (4 * mn - 1)) // (6 * mn**2)
    zeta_bound = lcm**2 * (m + n)
    combinations = math.factorial(m + n) / (math.factorial(m) * math.factorial(n))
    max_gs = max(zeta_bound, combinations)
    dtype = np.min_scalar_type(max_gs)
    gs = [np.array([[0], [1]], dtype=dtype)] + [np.empty((2, 0), dtype=dtype) for _ in range(m)]
    for u in range(n + 1):
        next_gs = []
        tmp = np.empty((2, 0), dtype=dtype)
        for v, g in enumerate(gs):
            vi, i0, i1 = np.intersect1d(tmp[0], g[0], return_indices=True)
            tmp = np.concatenate([np.stack([vi, tmp[1, i0] + g[1, i1]]), np.delete(tmp, i0, 1), np.delete(g, i1, 1)], 1)
            tmp[0] += (a * v - b * u) ** 2
            next_gs.append(tmp)
        gs = next_gs
    value, freq = gs[m]
    return np.float64(np.sum(freq[value >= zeta]) / combinations)


def _limiting_cdf(x_value: Any) -> Any:
    # Series (1.2) of Csorgo & Faraway, summed until a term is below 1e-7.
    x = np.asarray(x_value)

    def term(x: Any, k: int) -> Any:
        u = np.exp(gammaln(k + 0.5) - gammaln(k + 1)) / (np.pi**1.5 * np.sqrt(x))
        y = 4 * k + 1
        q = y**2 / (16 * x)
        return u * np.sqrt(y) * np.exp(-q) * kv(0.25, q)

    total = np.zeros_like(x, dtype="float")
    pending = np.ones_like(x, dtype="bool")
    k = 0
    while np.any(pending):
        z = term(x[pending], k)
        total[pending] = total[pending] + z
        pending[pending] = np.abs(z) >= 1e-7
        k += 1
    return total
