"""Named simulated sessions: when things happen, and what goes wrong.

:class:`SessionPlan` is the timetable of a session (phases, NIBP schedule).
A scenario is the typical session (:mod:`devices.physiology`) with at most one
change: a different pressor response, or one *episode* (a physiological
excursion, an artefact, or a device fault) starting at a set time after the
infusion start. The same seed is the same patient in every scenario.
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass

from devices.physiology import TYPICAL_RESPONSE, ResponseRange, as_reported, trapezoid
from devices.vocabulary import PARAMETERS, Status

#: Seconds from cuff inflation to result; the reading carries the result time.
NIBP_MEASUREMENT_S = 35
#: Pre-infusion NIBP: one soon after the monitor is attached and one just
#: before the start, which serves as the baseline.
_PRE_NIBP_MARGIN_S = 120


#: The longest phase a simulated session may have (a week, in minutes).
MAX_PHASE_MIN = 7 * 24 * 60.0


def whole_seconds(minutes: float) -> int:
    """Minutes as a whole number of seconds."""
    # Every time in a session is a whole number of seconds from its start, so
    # events, NIBP results and the 1 Hz readings share one grid.
    return round(minutes * 60.0)


@dataclass(frozen=True)
class SessionPlan:
    """When things happen in a simulated session.

    Attributes
    ----------
    start : float
        Session start (monitor attached), s since the epoch, UTC.
    pre_min, infusion_min, post_min : float
        Durations of the pre-infusion, infusion and recovery phases, minutes.
    nibp_during_min, nibp_after_min : float
        NIBP interval during the infusion (from its start) and after it (from
        its end), minutes.

    The session covers ``[start, end)``; all derived times are whole seconds
    after `start`.
    """

    start: float
    pre_min: float = 10.0
    infusion_min: float = 40.0
    post_min: float = 80.0
    nibp_during_min: float = 10.0
    nibp_after_min: float = 15.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.start):
            raise ValueError(f"session start must be a time, not {self.start!r}")
        durations = {"pre": (self.pre_min, 0), "infusion": (self.infusion_min, 1),
                     "post": (self.post_min, 1)}
        for name, (minutes, least_s) in durations.items():
            if not (math.isfinite(minutes) and minutes <= MAX_PHASE_MIN
                    and whole_seconds(minutes) >= least_s):
                raise ValueError(f"{name} must be {'>= 0' if least_s == 0 else '> 0'} "
                                 f"minutes, at most {MAX_PHASE_MIN:g}, not {minutes!r}")
        for name, minutes in (("nibp_during", self.nibp_during_min),
                              ("nibp_after", self.nibp_after_min)):
            if not (math.isfinite(minutes) and minutes * 60.0 > NIBP_MEASUREMENT_S
                    and minutes <= MAX_PHASE_MIN):
                raise ValueError(f"{name} must be longer than one NIBP measurement "
                                 f"({NIBP_MEASUREMENT_S} s), not {minutes!r} min")

    @property
    def infusion_start_offset(self) -> int:
        """Seconds from session start to infusion start."""
        return whole_seconds(self.pre_min)

    @property
    def infusion_end_offset(self) -> int:
        """Seconds from session start to infusion end."""
        return self.infusion_start_offset + whole_seconds(self.infusion_min)

    @property
    def duration_s(self) -> int:
        """Length of the session, s."""
        return self.infusion_end_offset + whole_seconds(self.post_min)

    @property
    def infusion_start(self) -> float:
        """Infusion start, s since epoch."""
        return self.start + self.infusion_start_offset

    @property
    def infusion_end(self) -> float:
        """Infusion end, s since epoch."""
        return self.start + self.infusion_end_offset

    @property
    def end(self) -> float:
        """First instant after the session (s since epoch); nothing happens at it."""
        return self.start + self.duration_s

    def nibp_offsets(self) -> list[int]:
        """Seconds from session start at which the NIBP cuff starts measuring."""
        begin, stop, end = self.infusion_start_offset, self.infusion_end_offset, self.duration_s
        pre = [o for o in (_PRE_NIBP_MARGIN_S, begin - _PRE_NIBP_MARGIN_S)
               if o >= 0 and o + NIBP_MEASUREMENT_S <= begin]
        during = range(begin, stop, whole_seconds(self.nibp_during_min))
        after = range(stop, end - NIBP_MEASUREMENT_S, whole_seconds(self.nibp_after_min))
        offsets: list[int] = []
        for o in sorted({*pre, *during, *after}):
            # A cuff cannot start again before its last measurement is done.
            if not offsets or o >= offsets[-1] + NIBP_MEASUREMENT_S:
                offsets.append(o)
        return offsets

    def nibp_schedule(self) -> list[float]:
        """Times the NIBP cuff starts measuring (s since epoch); results come
        :data:`NIBP_MEASUREMENT_S` later."""
        return [self.start + o for o in self.nibp_offsets()]


class EpisodeKind(enum.StrEnum):
    """What an episode does."""

    DESATURATION = "desaturation"        # SpO2 ramps to a nadir and back
    BRADYCARDIA = "bradycardia"          # HR and pulse rate ramp to a nadir and back
    MOTION_ARTIFACT = "motion_artifact"  # spikes and drop-outs; the patient is unchanged
    SENSOR_OFF = "sensor_off"            # the oximeter probe is off: no SpO2, no pulse rate
    DISCONNECT = "disconnect"            # the device sends nothing at all


@dataclass(frozen=True, slots=True)
class Episode:
    """One event in a session.

    Attributes
    ----------
    kind : EpisodeKind
    onset_min : float
        Default start, minutes after infusion start (a session may override it).
    duration_s : int
        How long it lasts, s of session time, ramps included.
    ramp_down_s, ramp_up_s : int
        For a physiological excursion: time to reach the nadir, and to come
        back from it; the plateau is what is left of `duration_s`.
    nadir : (float, float) or None
        For a physiological excursion: the level reached, drawn uniformly per
        patient, in the affected parameter's unit.
    """

    kind: EpisodeKind
    onset_min: float
    duration_s: int
    ramp_down_s: int = 0
    ramp_up_s: int = 0
    nadir: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.hold_s < 0:
            raise ValueError(f"{self.kind} episode: ramps of {self.ramp_down_s} + "
                             f"{self.ramp_up_s} s do not fit in {self.duration_s} s")

    @property
    def hold_s(self) -> int:
        """Time on the plateau, s."""
        return self.duration_s - self.ramp_down_s - self.ramp_up_s


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named session.

    Attributes
    ----------
    name : str
        What the spec string and the CLI call it.
    description : str
        One line for a menu or ``--help``.
    response : ResponseRange
        The pressor response of the patient.
    episode : Episode or None
    """

    name: str
    description: str
    response: ResponseRange = TYPICAL_RESPONSE
    episode: Episode | None = None


# Peak pressures of 200-210 / 105-115 mmHg: far enough over 180 that, with the
# largest possible noise (physiology.noise_bound, 13.5 mmHg) and the curve at
# 96 % of its peak, the NIBP 30 min after infusion start still reads >= 180.
SEVERE_RESPONSE = ResponseRange(
    hr_rise=(8.0, 14.0),
    sbp_peak=(200.0, 210.0),
    dbp_peak=(105.0, 115.0),
)

_TABLE: tuple[Scenario, ...] = (
    Scenario("typical",
             "An uneventful session: BP rises ~+14/+9 mmHg, peaking 30-40 min after start."),
    Scenario("hypertensive-response",
             "Severe hypertensive response: SBP passes 180 mmHg around the peak.",
             response=SEVERE_RESPONSE),
    Scenario("desaturation",
             "Transient desaturation: SpO2 falls to ~85 % and is under 88 % for 30-60 s.",
             # 40 s down, 32 s at the nadir, 25 s back: ~45 s under 88 %.
             episode=Episode(EpisodeKind.DESATURATION, onset_min=25.0, duration_s=97,
                             ramp_down_s=40, ramp_up_s=25, nadir=(84.5, 85.5))),
    Scenario("bradycardia",
             "Bradycardia: HR and pulse rate fall to ~42/min for about 2 min.",
             episode=Episode(EpisodeKind.BRADYCARDIA, onset_min=45.0, duration_s=155,
                             ramp_down_s=15, ramp_up_s=20, nadir=(40.0, 44.0))),
    Scenario("motion-artifact",
             "A restless patient: 10 min of HR/PR/SpO2 spikes and drop-outs, no real change.",
             episode=Episode(EpisodeKind.MOTION_ARTIFACT, onset_min=15.0, duration_s=600)),
    Scenario("sensor-off",
             "The SpO2 probe comes off for 90 s; ECG heart rate continues.",
             episode=Episode(EpisodeKind.SENSOR_OFF, onset_min=18.0, duration_s=90)),
    Scenario("disconnect",
             "The monitor goes silent for 60 s (an NIBP reading is lost), then resumes.",
             episode=Episode(EpisodeKind.DISCONNECT, onset_min=20.0, duration_s=60)),
)

SCENARIOS: list[str] = [s.name for s in _TABLE]
"""Scenario names, in menu order."""

_BY_NAME: dict[str, Scenario] = {s.name: s for s in _TABLE}


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None


def scenario_onset_minutes(name: str) -> float | None:
    """Default start of a scenario's episode, minutes after infusion start (None: no episode)."""
    episode = get_scenario(name).episode
    return None if episode is None else episode.onset_min


@dataclass(frozen=True, slots=True)
class Artifact:
    """What motion does to one parameter in one second.

    Attributes
    ----------
    dropout : bool
        The device reports no value (None, status invalid).
    factor, offset : float
        Otherwise the device reports ``truth * factor + offset`` flagged
        questionable.
    """

    dropout: bool
    factor: float = 1.0
    offset: float = 0.0

    def distort(self, param: str, value: float) -> tuple[float | None, Status]:
        """What the device reports for `param` when the true measurement is `value`."""
        if self.dropout:
            return None, Status.INVALID
        low, high = PARAMETERS[param].plausible
        spiked = as_reported(param, value * self.factor + self.offset)
        return min(max(spiked, low), high), Status.QUESTIONABLE


_DROPOUT = Artifact(dropout=True)


def motion_artifacts(rng: random.Random, duration_s: int) -> dict[int, dict[str, Artifact]]:
    """Lay out the artefacts of a motion episode.

    Parameters
    ----------
    rng : random.Random
        The episode's own stream.
    duration_s : int
        Length of the restless period, s.

    Returns
    -------
    dict
        Seconds since the episode onset → parameter id → artefact. Seconds not
        listed (between bursts, or clean seconds inside one) are unaffected.

    Notes
    -----
    Bursts of 6-30 s, one in each of 5-8 equal slots of the period so they never
    overlap. Within a burst, the pleth (SpO2 and pulse rate, one probe) and the
    ECG (HR) are hit independently. Rate spikes are the counting errors a
    monitor makes: double-counted beats (x1.7-2.3) or missed ones (x0.4-0.6).
    SpO2 spikes read 8-25 % low, as motion does to an oximeter.
    """
    marks: dict[int, dict[str, Artifact]] = {}
    bursts = rng.randint(5, 8)
    slot = duration_s // bursts
    for i in range(bursts):
        length = rng.randint(6, min(30, slot))
        first = i * slot + rng.randint(0, slot - length)
        for second in range(first, first + length):
            pleth = rng.random()
            if pleth < 0.45:
                marks.setdefault(second, {}).update(spo2=_DROPOUT, pulse_rate=_DROPOUT)
            elif pleth < 0.8:
                marks.setdefault(second, {}).update(
                    spo2=Artifact(False, offset=-rng.uniform(8.0, 25.0)),
                    pulse_rate=Artifact(False, factor=_rate_error(rng)))
            ecg = rng.random()
            if ecg < 0.15:
                marks.setdefault(second, {})["hr"] = _DROPOUT
            elif ecg < 0.55:
                marks.setdefault(second, {})["hr"] = Artifact(False, factor=_rate_error(rng))
    return marks


def _rate_error(rng: random.Random) -> float:
    double_counted = rng.random() < 0.6
    return rng.uniform(1.7, 2.3) if double_counted else rng.uniform(0.4, 0.6)


class PlacedEpisode:
    """A scenario's episode in one session: when it runs and how it goes for this patient.

    Parameters
    ----------
    episode : Episode
    first : int
        Second of the session (counted from its start) at which it begins.
    rng : random.Random
        The session's episode stream: draws the nadir and the artefact layout.

    Attributes
    ----------
    kind : EpisodeKind
    first, stop : int
        Seconds of the session it covers, ``[first, stop)``.
    nadir : float or None
        Level a physiological excursion reaches for this patient.
    """

    def __init__(self, episode: Episode, first: int, rng: random.Random) -> None:
        self.kind = episode.kind
        self.first, self.stop = first, first + episode.duration_s
        self._shape = (episode.ramp_down_s, episode.hold_s, episode.ramp_up_s)
        self.nadir = rng.uniform(*episode.nadir) if episode.nadir else None
        self._artifacts = (motion_artifacts(rng, episode.duration_s)
                           if episode.kind is EpisodeKind.MOTION_ARTIFACT else {})

    def depth(self, offset_s: float) -> float:
        """How far into its excursion the patient is at `offset_s` s into the session (0-1)."""
        return 0.0 if self.nadir is None else trapezoid(offset_s - self.first, *self._shape)

    def silences(self, k: int) -> bool:
        """True when the device sends nothing at all in second `k` of the session."""
        return self.kind is EpisodeKind.DISCONNECT and self.first <= k < self.stop

    def overlay(self, k: int, values: dict[str, float | None],
                nibp_cuff_started: int | None) -> dict[str, Status]:
        """Apply what an artefact or a probe fault does to the values of second `k`.

        Parameters
        ----------
        k : int
            Second of the session.
        values : dict
            Measured values by parameter id, changed in place (spikes come
            already rounded).
        nibp_cuff_started : int or None
            When an NIBP result is among `values`: the second its measurement began.

        Returns
        -------
        dict
            The status of every value changed.
        """
        faults: dict[str, Status] = {}
        # An NIBP result can come up to one measurement after the episode ends.
        if not self.first <= k < self.stop + NIBP_MEASUREMENT_S:
            return faults
        in_window = k < self.stop
        if self.kind is EpisodeKind.SENSOR_OFF and in_window:
            for param in ("spo2", "pulse_rate"):
                values[param], faults[param] = None, Status.INVALID
        elif self.kind is EpisodeKind.MOTION_ARTIFACT:
            if nibp_cuff_started is not None and nibp_cuff_started < self.stop \
                    and k > self.first:
                # A cuff measuring on a moving arm fails.
                for param in ("nibp_sys", "nibp_dia", "nibp_mean"):
                    values[param], faults[param] = None, Status.INVALID
            marks = self._artifacts.get(k - self.first, {}) if in_window else {}
            for param, mark in marks.items():
                value = values[param]
                if value is not None:
                    values[param], faults[param] = mark.distort(param, value)
        return faults
