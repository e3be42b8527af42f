"""An independent parametric VaR for tests: instrument and currency factors summed leg by leg.

Written apart from :mod:`transformations.risk` (the rule in its module docstring, implemented the long
way): each position of value ``w`` in base currency adds ``w`` to its instrument factor, ``w`` to its
currency's USD rate and ``-w`` to its base currency's USD rate (USD is no factor; equal currencies cancel
by the sum itself), and the variance is an explicit double sum over the factors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Held:
    instrument_id: str
    currency: str
    base_currency: str
    market_value_base: float
    daily_vol: float


def factor_sigma(
    held: Iterable[Held], instrument_correlation: Callable[[str, str], float], fx_daily_vol: float = 0.006
) -> float:
    """One-day P&L standard deviation of a book over its instrument and currency factors (no EWMA estimates:
    reference volatilities, ``fx_daily_vol`` for a currency, currencies uncorrelated with everything)."""
    exposures: dict[tuple[str, str], float] = {}
    vols: dict[tuple[str, str], float] = {}
    for position in held:
        if position.market_value_base == 0.0:
            continue
        legs = [(("instrument", position.instrument_id), position.market_value_base)]
        legs.append((("fx", position.currency), position.market_value_base))
        legs.append((("fx", position.base_currency), -position.market_value_base))
        for factor, amount in legs:
            if factor == ("fx", "USD"):
                continue
            exposures[factor] = exposures.get(factor, 0.0) + amount
        vols[("instrument", position.instrument_id)] = position.daily_vol
    variance = 0.0
    for a, w_a in exposures.items():
        for b, w_b in exposures.items():
            if a == b:
                rho = 1.0
            elif a[0] == b[0] == "instrument":
                rho = instrument_correlation(a[1], b[1])
            else:
                rho = 0.0
            vol_a = vols[a] if a[0] == "instrument" else fx_daily_vol
            vol_b = vols[b] if b[0] == "instrument" else fx_daily_vol
            variance += w_a * w_b * rho * vol_a * vol_b
    return math.sqrt(variance)
