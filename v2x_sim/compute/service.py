"""Service-time draws, each distribution parameterised by its mean."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from v2x_sim.scenario.v2x_sections import ServiceDistribution, ServiceParams


def draw_service_s(params: ServiceParams, n: int, rng: np.random.Generator, *,
                   deterministic: bool = False) -> NDArray[np.float64]:
    """``n`` service times with mean ``params.mean_s``.

    Lognormal: sigma^2 = ln(1 + cv^2), mu = ln(mean) - sigma^2 / 2, so E[S] = mean and
    the coefficient of variation is ``cv``. Deterministic mode returns the mean.
    """
    mean = params.mean_s
    kind = params.distribution
    if deterministic or kind == ServiceDistribution.DETERMINISTIC:
        return np.full(n, mean)
    if kind == ServiceDistribution.EXPONENTIAL:
        return rng.exponential(mean, n)
    sigma2 = math.log1p(params.cv**2)
    return rng.lognormal(math.log(mean) - sigma2 / 2.0, math.sqrt(sigma2), n)


def second_moment_s2(params: ServiceParams) -> float:
    """E[S^2] of the distribution (for Pollaczek-Khinchine): mean^2 (1 + cv^2)."""
    mean = params.mean_s
    if params.distribution == ServiceDistribution.DETERMINISTIC:
        return mean**2
    if params.distribution == ServiceDistribution.EXPONENTIAL:
        return 2.0 * mean**2
    return mean**2 * (1.0 + params.cv**2)
