"""The demo's chairs: simulated sessions, staggered so something happens soon.

Without a chosen scenario the chairs cycle through a mix, and each starts part
way into its session (the part already passed is filled in at once), timed so
that its scenario's episode comes within the first few minutes of watching.
When a chair's session ends, the next simulated patient sits down.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from devices.adapter import Adapter
from devices.registry import open_adapter
from devices.scenarios import SCENARIOS, scenario_onset_minutes
from devices.spec import SpecError

DEMO_MIX: tuple[str, ...] = ("typical", "hypertensive-response", "desaturation",
                             "motion-artifact", "sensor-off", "bradycardia", "disconnect")

PRE_INFUSION_MIN = 10.0   # the simulator's default pre-infusion phase
LEAD_MIN = 2.0            # minutes of watching before a chair's episode begins
# Scenarios without an episode: the moment worth seeing, minutes after the
# infusion start (the NIBP cuff that finds the pressure peak; the infusion
# in its first minutes).
MOMENT_MIN = {"hypertensive-response": 30.0, "typical": 5.0}


@dataclass(frozen=True)
class DemoChair:
    """One demo chair: how to build its adapter now and for each next patient."""

    name: str
    scenario: str
    seed: int
    speed: float
    elapsed_min: float

    def spec(self, seed: int, elapsed_min: float) -> str:
        return (f"sim:?scenario={self.scenario}&seed={seed}&speed={self.speed:g}"
                f"&elapsed={elapsed_min:g}")

    def adapter(self) -> Adapter:
        return open_adapter(self.spec(self.seed, self.elapsed_min))

    @property
    def next_adapter(self) -> Callable[[], Adapter | None]:
        patients = iter(range(1, 10_000))

        def next_patient() -> Adapter:
            return open_adapter(self.spec(self.seed + 1000 * next(patients), 0))

        return next_patient


def demo_chairs(count: int, *, speed: float = 1.0, scenario: str | None = None,
                ) -> list[DemoChair]:
    """Plan `count` chairs named "1".."N".

    Raises
    ------
    SpecError
        `scenario` is not one the simulator knows.
    """
    if scenario is not None and scenario not in SCENARIOS:
        raise SpecError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    chairs = []
    for i in range(count):
        name = scenario or DEMO_MIX[i % len(DEMO_MIX)]
        onset = scenario_onset_minutes(name)
        moment = onset if onset is not None else MOMENT_MIN.get(name, 5.0)
        elapsed = max(0.0, PRE_INFUSION_MIN + moment - LEAD_MIN)
        # Chairs with the same scenario are spread out, as patients would be.
        elapsed = max(0.0, elapsed - 7.0 * (i // len(DEMO_MIX)))
        chairs.append(DemoChair(str(i + 1), name, seed=i + 1, speed=speed, elapsed_min=elapsed))
    return chairs
