"""A seeded, deterministic ketamine session, as a device spec: ``sim:?scenario=...``.

:class:`Simulator` is the pure part: given a scenario, a seed and a
:class:`SessionPlan` it produces the session's items in time order, the same
however the session is read (whole, or a second at a time). HR, pulse rate,
SpO2 and RR come every second; NIBP comes as episodic readings on the plan's
schedule; the simulator also plays the nurse (``infusion_start``,
``infusion_stop`` events). :class:`SimulatorAdapter` puts a clock in front of
it: real time, sped up (``speed=600``), or stepping (``speed=max``, never
sleeps).
"""

from __future__ import annotations

import math
import time
from collections import deque
from datetime import datetime

from devices.adapter import TimelineAdapter
from devices.clock import Clock, clock_at
from devices.physiology import (
    NOISE,
    Wander,
    as_reported,
    bounded_z,
    draw_baseline,
    draw_response,
    pressor_response,
    stream,
)
from devices.scenarios import (
    NIBP_MEASUREMENT_S,
    EpisodeKind,
    PlacedEpisode,
    SessionPlan,
    get_scenario,
    whole_seconds,
)
from devices.spec import DeviceSpec, SpecError
from devices.vocabulary import (
    PARAMETERS,
    DeviceEvent,
    DeviceEventKind,
    Item,
    Reading,
    SourceKind,
    Status,
)

SOURCE = "sim"
#: The APA consensus depression dose (CLINICAL.md).
DOSE_MG_PER_KG = 0.5
#: Parameters reported every second, in the order they come out each second.
ONE_HZ_PARAMS: tuple[str, ...] = ("hr", "pulse_rate", "spo2", "resp_rate")

_TRUTH_INDEX = {"nibp_sys": 0, "nibp_dia": 1, "hr": 2, "pulse_rate": 2, "spo2": 3,
                "resp_rate": 4}
_NURSE_EVENTS = (DeviceEventKind.INFUSION_START, DeviceEventKind.INFUSION_STOP)
_UNITS = {param: spec.unit for param, spec in PARAMETERS.items()}


class Simulator:
    """One simulated session, produced on demand and in time order.

    Parameters
    ----------
    scenario : str
        A name from :data:`devices.scenarios.SCENARIOS`.
    seed : int
        Picks the patient (baseline, response, noise); the same seed is the same
        patient in every scenario.
    plan : SessionPlan
    event_at : float, optional
        Minutes after infusion start at which the scenario's episode begins,
        instead of the scenario's default (negative: before the start).

    Attributes
    ----------
    scenario : Scenario
    seed : int
    plan : SessionPlan
    baseline : Baseline
        The patient's resting values.
    response : Response
        The patient's pressor response at its peak.
    episode_window : (float, float) or None
        Start and end of the scenario's episode (s since epoch; end exclusive).

    Raises
    ------
    ValueError
        Unknown scenario; `event_at` for a scenario without an episode; an
        episode that does not fit in the session.
    """

    def __init__(self, scenario: str, seed: int, plan: SessionPlan, *,
                 event_at: float | None = None) -> None:
        self.scenario = get_scenario(scenario)
        self.seed = seed
        self.plan = plan
        self._infusion_start_offset = plan.infusion_start_offset
        self.baseline = draw_baseline(stream(seed, "baseline"))
        self.response = draw_response(stream(seed, "response"), self.scenario.response,
                                      self.baseline)
        self.episode_window: tuple[float, float] | None = None
        self._episode: PlacedEpisode | None = None
        episode = self.scenario.episode
        if episode is None:
            if event_at is not None:
                raise ValueError(f"scenario {scenario!r} has no episode to place at event_at")
        else:
            onset_min = episode.onset_min if event_at is None else event_at
            if not math.isfinite(onset_min):
                raise ValueError(f"event_at must be a number of minutes, not {onset_min!r}")
            first = plan.infusion_start_offset + whole_seconds(onset_min)
            if not 0 <= first <= plan.duration_s - episode.duration_s:
                raise ValueError(f"the {scenario} episode ({episode.duration_s} s at "
                                 f"{onset_min:g} min after infusion start) does not fit "
                                 "in the session")
            self._episode = PlacedEpisode(episode, first, stream(seed, "episode"))
            self.episode_window = (plan.start + first, plan.start + first + episode.duration_s)
        wanders = {spec.wander: spec for spec in NOISE.values()}
        self._wander = {name: Wander(stream(seed, f"wander/{name}"), spec.wander_sd,
                                     spec.wander_tau_s) for name, spec in wanders.items()}
        self._white = {param: (stream(seed, f"white/{param}"), spec.white_sd)
                       for param, spec in NOISE.items()}
        # Looked up every second: bound once, in ONE_HZ_PARAMS order.
        self._one_hz_white = tuple(self._white[p] for p in ONE_HZ_PARAMS)
        self._one_hz_wander = tuple(self._wander[w] for w in ("heart", "spo2", "resp"))
        self._nibp_cuffs = {o + NIBP_MEASUREMENT_S: o for o in plan.nibp_offsets()}
        self._events = self._scripted_events()
        self._pending: deque[Item] = deque()
        self._next_second = 0

    # --- the model's truth ------------------------------------------------------

    def expected(self, param: str, t: float) -> float:
        """The patient's true value of `param` at time `t` (s since epoch), before noise.

        Baseline plus pressor response plus the scenario's physiological
        episode; artefacts and device faults do not change it.
        """
        truth = self._truth(t - self.plan.start)
        if param == "nibp_mean":
            return truth[1] + (truth[0] - truth[1]) / 3.0
        try:
            return truth[_TRUTH_INDEX[param]]
        except KeyError:
            raise ValueError(f"the simulator does not model {param!r}") from None

    def _truth(self, offset_s: float) -> tuple[float, float, float, float, float]:
        """(SBP, DBP, HR, SpO2, RR) at `offset_s` seconds after session start."""
        base, rise = self.baseline, self.response
        f = pressor_response((offset_s - self._infusion_start_offset) / 60.0)
        sbp, dbp, hr = base.sbp + rise.sbp * f, base.dbp + rise.dbp * f, base.hr + rise.hr * f
        spo2 = base.spo2
        episode = self._episode
        if episode is not None and episode.nadir is not None:
            depth = episode.depth(offset_s)
            if episode.kind is EpisodeKind.DESATURATION:
                spo2 += (episode.nadir - spo2) * depth
            elif episode.kind is EpisodeKind.BRADYCARDIA:
                hr += (episode.nadir - hr) * depth
        return sbp, dbp, hr, spo2, base.rr

    # --- the timeline -----------------------------------------------------------

    def next_time(self) -> float | None:
        """Time of the next item (s since epoch), or None when the session is over."""
        pending = self._pending
        while not pending and self._next_second < self.plan.duration_s:
            pending.extend(self._items_at(self._next_second))
            self._next_second += 1
        return pending[0].time if pending else None

    def take_until(self, t: float) -> list[Item]:
        """Remove and return every item with time <= `t`, in time order."""
        taken: list[Item] = []
        pending = self._pending
        while pending and pending[0].time <= t:
            taken.append(pending.popleft())
        if pending:
            return taken
        # All items of one second share its time, so whole seconds can go out at once.
        start, duration = self.plan.start, self.plan.duration_s
        while self._next_second < duration and start + self._next_second <= t:
            taken += self._items_at(self._next_second)
            self._next_second += 1
        return taken

    def skip_until(self, t: float) -> int:
        """Drop every item with time < `t` (what a device sent while no one listened).

        Returns the number of items dropped. Later items are unchanged: the
        session goes on as if they had been read.
        """
        dropped = 0
        while (upcoming := self.next_time()) is not None and upcoming < t:
            self._pending.popleft()
            dropped += 1
        return dropped

    def _scripted_events(self) -> dict[int, list[DeviceEvent]]:
        """Events by second: the nurse's infusion start and stop, the probe coming off."""
        plan = self.plan
        dose_mg = round(DOSE_MG_PER_KG * self.baseline.weight_kg, 1)
        script = [
            (plan.infusion_start_offset, DeviceEventKind.INFUSION_START,
             {"dose_mg_per_kg": DOSE_MG_PER_KG, "dose_mg": dose_mg,
              "duration_min": plan.infusion_min, "simulated": True}),
            (plan.infusion_end_offset, DeviceEventKind.INFUSION_STOP,
             {"dose_mg": dose_mg, "simulated": True}),
        ]
        episode = self._episode
        if episode is not None and episode.kind is EpisodeKind.SENSOR_OFF:
            script += [(episode.first, DeviceEventKind.SENSOR_OFF, {"probe": "spo2"}),
                       (episode.stop, DeviceEventKind.SENSOR_ON, {"probe": "spo2"})]
        events: dict[int, list[DeviceEvent]] = {}
        for offset, kind, data in script:
            events.setdefault(offset, []).append(
                DeviceEvent(plan.start + offset, kind, SOURCE, data))
        return events

    def _noisy(self, param: str, truth: float, wander: float) -> float:
        rng, sd = self._white[param]
        return truth + wander + sd * bounded_z(rng)

    def _one_hz_values(self, k: int, hr: float, spo2: float, rr: float) -> dict[str, float | None]:
        """HR, pulse rate, SpO2 and RR as measured at second `k`, before rounding."""
        (hr_rng, hr_sd), (pr_rng, pr_sd), (spo2_rng, spo2_sd), (rr_rng, rr_sd) = self._one_hz_white
        heart_wander, spo2_wander, resp_wander = self._one_hz_wander
        heart = heart_wander.at(k)
        return {
            "hr": hr + heart + hr_sd * bounded_z(hr_rng),
            "pulse_rate": hr + heart + pr_sd * bounded_z(pr_rng),
            "spo2": spo2 + spo2_wander.at(k) + spo2_sd * bounded_z(spo2_rng),
            "resp_rate": rr + resp_wander.at(k) + rr_sd * bounded_z(rr_rng),
        }

    def _items_at(self, k: int) -> list[Item]:
        """Everything the session produces `k` seconds after its start."""
        t = self.plan.start + k
        sbp, dbp, hr, spo2, rr = self._truth(k)
        # Every value is computed even when it will not be sent, so that the
        # noise streams stay in step with the uninterrupted session.
        values = self._one_hz_values(k, hr, spo2, rr)
        if k in self._nibp_cuffs:
            wander = self._wander
            sys_value = as_reported("nibp_sys", self._noisy("nibp_sys", sbp, wander["sbp"].at(k)))
            dia_value = as_reported("nibp_dia", self._noisy("nibp_dia", dbp, wander["dbp"].at(k)))
            values.update(nibp_sys=sys_value, nibp_dia=dia_value,
                          nibp_mean=float(round(dia_value + (sys_value - dia_value) / 3.0)))
        items: list[Item] = list(self._events.get(k, ()))
        faults: dict[str, Status] = {}
        if (episode := self._episode) is not None:
            if episode.silences(k):
                # The nurse's actions are not the monitor's output: they still happen.
                return [e for e in items if isinstance(e, DeviceEvent)
                        and e.kind in _NURSE_EVENTS]
            faults = episode.overlay(k, values, self._nibp_cuffs.get(k))
        valid = Status.VALID
        for param, value in values.items():
            status = faults.get(param, valid) if faults else valid
            if value is not None and status is valid:
                value = as_reported(param, value)
            items.append(Reading(t, param, value, _UNITS[param], status, SOURCE))
        return items


def generate_session(scenario: str, seed: int, start: float, *, event_at: float | None = None,
                     **plan_kwargs: float) -> list[Item]:
    """All items of one simulated session, in time order.

    `plan_kwargs` are :class:`SessionPlan` fields (``pre_min=5``, ...).
    """
    plan = SessionPlan(start, **plan_kwargs)
    return Simulator(scenario, seed, plan, event_at=event_at).take_until(plan.end)


class SimulatorAdapter(TimelineAdapter):
    """The simulator as a device: ``sim:?scenario=NAME&seed=N&speed=X&...``.

    Options: ``scenario`` (default typical), ``seed`` (default 1), ``speed``
    (session seconds per wall second, default 1; ``max`` steps through the
    session without sleeping), ``start`` (ISO 8601 with offset; default now),
    ``elapsed`` (minutes of the session already past when it opens; they come
    out at once), ``pre``, ``infusion``, ``post``, ``nibp_during``,
    ``nibp_after`` (minutes), ``event_at`` (minutes after infusion start at
    which the scenario's episode begins).

    Closing and reopening continues the same session, as a monitor does when
    its cable is replugged; what was not read before the reopening is lost, as
    it would be on a real link.
    """

    protocol = "sim"
    source_kind = SourceKind.SIMULATED
    OPTIONS = frozenset({"scenario", "seed", "speed", "start", "elapsed", "pre", "infusion",
                         "post", "nibp_during", "nibp_after", "event_at"})

    def __init__(self, spec: DeviceSpec, clock: Clock | None = None) -> None:
        super().__init__(spec)
        spec.check_known(set(self.OPTIONS))
        self.scenario_name = spec.options.get("scenario", "typical")
        self.seed = spec.int_option("seed", 1)
        speed = spec.speed_option()
        elapsed_min = spec.float_option("elapsed", 0.0)
        if not math.isfinite(elapsed_min):
            raise SpecError(f"{spec.text}: elapsed must be a number of minutes")
        elapsed_s = whole_seconds(elapsed_min)
        start_text = spec.option("start")
        if start_text is not None:
            start = _parse_start(spec, start_text)
        else:
            start = math.floor(clock.now() if clock else time.time()) - elapsed_s
        event_at = None if spec.option("event_at") is None else spec.float_option("event_at", 0)
        try:
            self.plan = SessionPlan(
                start,
                pre_min=spec.float_option("pre", 10.0),
                infusion_min=spec.float_option("infusion", 40.0),
                post_min=spec.float_option("post", 80.0),
                nibp_during_min=spec.float_option("nibp_during", 10.0),
                nibp_after_min=spec.float_option("nibp_after", 15.0),
            )
            if not 0 <= elapsed_s < self.plan.duration_s:
                raise ValueError(f"elapsed must be from 0 to under the session's "
                                 f"{self.plan.duration_s / 60:g} min")
            self.simulator = Simulator(self.scenario_name, self.seed, self.plan,
                                       event_at=event_at)
        except ValueError as exc:
            raise SpecError(f"{spec.text}: {exc}") from None
        if clock is None:
            now = self.plan.start + elapsed_s
            clock = clock_at(now, speed)
        self.clock = clock
        self._was_closed = False

    def session_start(self) -> float:
        return self.plan.start

    def describe(self) -> str:
        """Short label for the screen and the session record."""
        speed = self.clock.speed
        pace = "max speed" if not math.isfinite(speed) else f"{speed:g}x"
        return f"simulated: {self.scenario_name}, seed {self.seed}, {pace}"

    def _open(self) -> None:
        if self._was_closed:
            self.simulator.skip_until(self.clock.now())

    def _close(self) -> None:
        self._was_closed = True

    def _next_time(self) -> float | None:
        return self.simulator.next_time()

    def _take_until(self, t: float) -> list[Item]:
        return self.simulator.take_until(t)


def _parse_start(spec: DeviceSpec, text: str) -> float:
    """The ``start`` option (ISO 8601 with an offset) as s since epoch."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SpecError(f"{spec.text}: start={text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SpecError(f"{spec.text}: start={text!r} needs an offset, "
                        "e.g. 2026-11-26T14:00:00Z or +01:00")
    return moment.timestamp()
