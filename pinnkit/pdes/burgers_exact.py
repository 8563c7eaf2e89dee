"""TEMPORARY Cole-Hopf reference via Gauss-Hermite, until the full module lands."""
import numpy as np


def burgers_exact(x, t, nu, nodes=150):
    x, t = np.broadcast_arrays(np.asarray(x, float), np.asarray(t, float))
    s, w = np.polynomial.hermite.hermgauss(nodes)
    out = -np.sin(np.pi * x)
    m = t > 0
    xm, tm = x[m][:, None], t[m][:, None]
    y = xm - np.sqrt(4 * nu * tm) * s[None, :]
    e = -np.cos(np.pi * y) / (2 * np.pi * nu)
    e -= e.max(axis=1, keepdims=True)
    f = w * np.exp(e)
    out[m] = -(np.sin(np.pi * y) * f).sum(1) / f.sum(1)
    return out
