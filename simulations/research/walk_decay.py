"""The decay exponent the stylized-fact check would find on the reference
walk alone (no market): log-normal stochastic volatility as engine/src/price.rs
models it (an AR(1) log multiplier with a half-life), stepped every 10 s,
summed into 390 one-minute returns a day; per symbol day, the ACF of |r| at
lags 1-30 (demeaned by the day, as simulations/src/facts.rs does), averaged
over 4 symbols, and the least-squares slope of ln(acf) on ln(lag) over the
positive lags. Prints the median and range over days for a few settings.

    python3 simulations/research/walk_decay.py      (needs numpy)
"""
import numpy as np

rng = np.random.default_rng(1)


def acf(x, lag):
    m = x.mean()
    return ((x[lag:] - m) * (x[:-lag] - m)).sum() / ((x - m) ** 2).sum()


def decay(acfs):
    pts = [(np.log(i + 1), np.log(v)) for i, v in enumerate(acfs) if v > 0]
    return -np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0]


def day(vol_of_vol, half_life_s, minutes=390, dt=10.0):
    per_minute = int(60 / dt)
    n = minutes * per_minute
    phi = 0.5 ** (dt / half_life_s)
    xs, zs = rng.standard_normal(n), rng.standard_normal(n)
    h, log_vol = 0.0, np.zeros(n)
    for t in range(n):
        h = phi * h + vol_of_vol * np.sqrt(1 - phi * phi) * xs[t]
        log_vol[t] = h
    returns = np.exp(log_vol - vol_of_vol**2) * zs
    return returns.reshape(minutes, per_minute).sum(1)


for vol_of_vol, half_life_s in [(0.8, 900), (0.8, 1800), (0.8, 3600), (0.8, 7200), (1.2, 3600)]:
    days = []
    for _ in range(8):
        acfs = np.mean(
            [[acf(np.abs(day(vol_of_vol, half_life_s)), lag) for lag in range(1, 31)] for _ in range(4)],
            axis=0,
        )
        days.append(decay(acfs))
    print(
        f"vol_of_vol {vol_of_vol} half-life {half_life_s} s: decay median "
        f"{np.median(days):.2f} ({min(days):.2f}-{max(days):.2f}), 8 days of 4 symbols"
    )
