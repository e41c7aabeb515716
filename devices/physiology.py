"""The physiological model behind the simulator: pure pieces, no clock, no I/O.

One simulated patient is

- a **baseline** drawn from the seed (resting SBP, DBP, HR, SpO2, RR, weight);
- a **pressor response** to ketamine: a smooth bump that is zero before the
  infusion starts, peaks about 35 min after the start and has faded to under
  5 % of its peak by 90 min (CLINICAL.md, "What ketamine does to the vitals");
- **noise**: a slow wander (the patient's own variation, an Ornstein-Uhlenbeck
  process) plus white measurement noise, both bounded at a few standard
  deviations so scenario guarantees can be reasoned about (see
  :func:`noise_bound`).

Every source of randomness is its own :func:`stream`, so a draw for one signal
never shifts the values of another: the same seed gives the same patient in
every scenario, and a scenario only changes what it is about.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

#: Noise is drawn from a normal distribution cut at this many standard
#: deviations (the wander is held at the bound), so the largest
#: possible deviation of a reading from the model's truth is known.
NOISE_CUTOFF_SD = 3.0

#: Minutes after infusion start at which the pressor response peaks; between
#: the 30-40 min of the published series (CLINICAL.md).
RESPONSE_PEAK_MIN = 35.0

#: Shape parameter of the response bump: 5 puts it under 5 % of the peak by
#: 90 min after infusion start ("back to baseline within about 1.5 h").
RESPONSE_SHARPNESS = 5.0


def stream(seed: int, purpose: str) -> random.Random:
    """An independent random generator for one purpose of one seeded session.

    Parameters
    ----------
    seed : int
        The session's seed.
    purpose : str
        What the stream is for, e.g. ``"baseline"``, ``"white/hr"``.

    Returns
    -------
    random.Random
        Seeded from a string, which ``random`` hashes with SHA-512: stable
        across runs, platforms and ``PYTHONHASHSEED``.
    """
    return random.Random(f"infusion-monitor-sim/{seed}/{purpose}")


_STANDARD_NORMAL = NormalDist()
_CUTOFF_LOW_P = _STANDARD_NORMAL.cdf(-NOISE_CUTOFF_SD)
_CUTOFF_SPAN_P = _STANDARD_NORMAL.cdf(NOISE_CUTOFF_SD) - _CUTOFF_LOW_P
_INV_CDF = _STANDARD_NORMAL.inv_cdf


def bounded_z(rng: random.Random) -> float:
    """A standard normal draw cut at ±:data:`NOISE_CUTOFF_SD`.

    By inverse CDF from one uniform draw: exactly one draw per value (so a
    stream's position never depends on what was drawn), and several times
    faster than ``gauss`` with rejection.
    """
    return _INV_CDF(_CUTOFF_LOW_P + _CUTOFF_SPAN_P * rng.random())


def truncated_gauss(rng: random.Random, mean: float, sd: float,
                    low: float, high: float) -> float:
    """A normal draw restricted to ``[low, high]`` (by inverse CDF, one uniform draw).

    Restricted rather than clipped, so patients do not pile up at a limit.
    """
    p_low = _STANDARD_NORMAL.cdf((low - mean) / sd)
    p_high = _STANDARD_NORMAL.cdf((high - mean) / sd)
    u = p_low + (p_high - p_low) * rng.random()
    # rng.random() < 1, but the inverse CDF is only defined strictly inside (0, 1).
    u = min(max(u, 1e-300), 1.0 - 1e-16)
    return min(max(mean + sd * _STANDARD_NORMAL.inv_cdf(u), low), high)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A patient's resting values before the infusion.

    Attributes
    ----------
    sbp, dbp : float
        Systolic and diastolic blood pressure, mmHg.
    hr : float
        Heart rate, /min (the pulse rate is the same heart).
    spo2 : float
        Oxygen saturation, %.
    rr : float
        Respiratory rate, /min.
    weight_kg : float
        Body weight, kg (for the dose in mg).
    """

    sbp: float
    dbp: float
    hr: float
    spo2: float
    rr: float
    weight_kg: float


def draw_baseline(rng: random.Random) -> Baseline:
    """Draw one patient's resting values.

    SBP ~N(122, 8) mmHg limited to 100-132 and DBP ~N(76, 6) limited to 60-84,
    so that with measurement noise a patient almost always passes the clinic's
    140/90 pre-treatment gate (the simulator's patients are ones the clinic
    would treat). HR ~N(74, 9) /min in 60-95, SpO2 ~N(97.5, 1) % in 95-99.5,
    RR ~N(14, 2) /min in 10-20, weight ~N(80, 15) kg in 50-130.
    """
    # Fixed draw order: adding a field later must append, not insert.
    return Baseline(
        sbp=truncated_gauss(rng, 122.0, 8.0, 100.0, 132.0),
        dbp=truncated_gauss(rng, 76.0, 6.0, 60.0, 84.0),
        hr=truncated_gauss(rng, 74.0, 9.0, 60.0, 95.0),
        spo2=truncated_gauss(rng, 97.5, 1.0, 95.0, 99.5),
        rr=truncated_gauss(rng, 14.0, 2.0, 10.0, 20.0),
        weight_kg=truncated_gauss(rng, 80.0, 15.0, 50.0, 130.0),
    )


def pressor_response(minutes_after_start: float) -> float:
    """Fraction of the peak pressor response at a time after infusion start.

    A gamma-variate bump ``f(τ) = (τ/τp)^k · exp(k(1 − τ/τp))`` with
    ``τp`` = :data:`RESPONSE_PEAK_MIN` and ``k`` = :data:`RESPONSE_SHARPNESS`.

    Parameters
    ----------
    minutes_after_start : float
        Minutes since the infusion started; negative before it.

    Returns
    -------
    float
        0 before the start, 1 at the peak (35 min), about 0.96 at 30 min,
        0.95 at 40 min and 0.04 at 90 min.
    """
    if minutes_after_start <= 0.0:
        return 0.0
    x = minutes_after_start / RESPONSE_PEAK_MIN
    return x**RESPONSE_SHARPNESS * math.exp(RESPONSE_SHARPNESS * (1.0 - x))


@dataclass(frozen=True, slots=True)
class ResponseRange:
    """How strongly patients respond; each rise is drawn uniformly per patient.

    Attributes
    ----------
    sbp_rise, dbp_rise : (float, float)
        Rise in mmHg at the peak of the response.
    hr_rise : (float, float)
        Rise in /min at the peak.
    sbp_peak, dbp_peak : (float, float) or None
        When set, the pressure (mmHg) the patient reaches at the peak, whatever
        the baseline; replaces the corresponding rise. Used for the severe
        hypertensive response, which is defined by where it ends up.
    """

    sbp_rise: tuple[float, float] = (12.0, 16.0)
    dbp_rise: tuple[float, float] = (8.0, 11.0)
    hr_rise: tuple[float, float] = (1.0, 3.0)
    sbp_peak: tuple[float, float] | None = None
    dbp_peak: tuple[float, float] | None = None


#: Published means: SBP +12.6..16.0, DBP +8.5..11.0 mmHg, pulse +1.9/min.
TYPICAL_RESPONSE = ResponseRange()


@dataclass(frozen=True, slots=True)
class Response:
    """One patient's rise at the peak of the response (mmHg, mmHg, /min)."""

    sbp: float
    dbp: float
    hr: float


def draw_response(rng: random.Random, spec: ResponseRange, baseline: Baseline) -> Response:
    """Draw one patient's response magnitudes from `spec`."""
    # The rises are drawn first and always, so a scenario that adds peak
    # pressures leaves the patient's other draws as they were.
    sbp_rise = rng.uniform(*spec.sbp_rise)
    dbp_rise = rng.uniform(*spec.dbp_rise)
    hr_rise = rng.uniform(*spec.hr_rise)
    sbp_peak = rng.uniform(*spec.sbp_peak) if spec.sbp_peak else None
    dbp_peak = rng.uniform(*spec.dbp_peak) if spec.dbp_peak else None
    return Response(
        sbp=sbp_rise if sbp_peak is None else sbp_peak - baseline.sbp,
        dbp=dbp_rise if dbp_peak is None else dbp_peak - baseline.dbp,
        hr=hr_rise,
    )


def trapezoid(seconds_since_onset: float, ramp_down_s: float, hold_s: float,
              ramp_up_s: float) -> float:
    """How far into an excursion a signal is: 0 outside, 1 on the plateau.

    Linear ramps: a desaturation or a bradycardia moves at a roughly steady
    rate, and a straight ramp makes the time spent beyond a threshold depend
    little on where noise puts the level.
    """
    t = seconds_since_onset
    if t <= 0.0 or t >= ramp_down_s + hold_s + ramp_up_s:
        return 0.0
    if t < ramp_down_s:
        return t / ramp_down_s
    if t <= ramp_down_s + hold_s:
        return 1.0
    return (ramp_down_s + hold_s + ramp_up_s - t) / ramp_up_s


@dataclass(frozen=True, slots=True)
class NoiseSpec:
    """Noise of one reported parameter.

    Attributes
    ----------
    wander : str
        Name of the physiological wander it shares (heart rate and pulse rate
        are the same heart, so they wander together).
    wander_sd : float
        Standard deviation of the wander, in the parameter's unit.
    wander_tau_s : float
        Correlation time of the wander, s.
    white_sd : float
        Standard deviation of the measurement noise, in the parameter's unit.
    """

    wander: str
    wander_sd: float
    wander_tau_s: float
    white_sd: float


NOISE: dict[str, NoiseSpec] = {
    "hr": NoiseSpec("heart", 2.0, 180.0, 1.0),
    "pulse_rate": NoiseSpec("heart", 2.0, 180.0, 1.0),
    "spo2": NoiseSpec("spo2", 0.5, 120.0, 0.35),
    "resp_rate": NoiseSpec("resp", 1.0, 120.0, 0.7),
    "nibp_sys": NoiseSpec("sbp", 2.5, 600.0, 2.0),
    "nibp_dia": NoiseSpec("dbp", 2.0, 600.0, 1.5),
}


def noise_bound(param: str) -> float:
    """Largest possible |reading − truth| before rounding, in the parameter's unit.

    For ``nibp_mean`` (computed from the other two) the bound of the
    systolic/diastolic combination.
    """
    if param == "nibp_mean":
        return (noise_bound("nibp_sys") + 2.0 * noise_bound("nibp_dia")) / 3.0
    spec = NOISE[param]
    return NOISE_CUTOFF_SD * (spec.wander_sd + spec.white_sd)


class Wander:
    """A slow, mean-reverting deviation (Ornstein-Uhlenbeck), sampled at rising times.

    Each step uses the exact transition for its interval, so sampling every
    second (a 1 Hz parameter) and every few minutes (NIBP) are equally right.
    Held within ±:data:`NOISE_CUTOFF_SD` standard deviations.

    Parameters
    ----------
    rng : random.Random
        This wander's own stream.
    sd : float
        Stationary standard deviation, in the signal's unit.
    tau_s : float
        Correlation time, s.
    """

    __slots__ = ("_decay", "_kick", "_limit", "_rng", "_sd", "_step_dt", "_t", "_tau_s", "_x")

    def __init__(self, rng: random.Random, sd: float, tau_s: float) -> None:
        self._rng = rng
        self._sd = sd
        self._tau_s = tau_s
        self._limit = NOISE_CUTOFF_SD * sd
        # Start from the stationary distribution: the patient was already
        # varying before the monitor was attached.
        self._x = sd * bounded_z(rng)
        self._t: float | None = None
        self._step_dt = math.nan  # no interval seen yet
        self._decay = self._kick = 0.0

    def at(self, t: float) -> float:
        """The wander at time `t` (s, any origin); `t` must not decrease."""
        last = self._t
        if last is not None and t < last:
            raise ValueError(f"wander sampled backwards in time ({t} after {last})")
        self._t = t
        if last is None or t == last:
            return self._x
        dt = t - last
        if dt != self._step_dt:
            # Sampling is mostly at one interval (1 s): keep its coefficients.
            self._step_dt = dt
            self._decay = math.exp(-dt / self._tau_s)
            self._kick = self._sd * math.sqrt(1.0 - self._decay**2)
        x = self._decay * self._x + self._kick * bounded_z(self._rng)
        limit = self._limit
        x = limit if x > limit else -limit if x < -limit else x
        self._x = x
        return x


def as_reported(param: str, value: float) -> float:
    """Round a value the way monitors report it: whole numbers, SpO2 at most 100 %.

    Nothing goes below 0 (a rate or a pressure has no negative reading).
    """
    reported = round(value)
    if reported < 0:
        return 0.0
    if reported > 100 and param == "spo2":
        return 100.0
    return float(reported)
