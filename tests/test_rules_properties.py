"""Properties of the rules engine over arbitrary input (hypothesis)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.vocabulary import PARAMETERS, DeviceEvent, DeviceEventKind, Reading, Status
from monitor.rules import AlarmChange, AlarmState, IllegalTransition, RulesEngine, load_profile
from monitor.rules.alarms import ALLOWED

PROFILE = load_profile()
T = 1_795_700_000.0

values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(min_value=-50, max_value=350), st.sampled_from([0.0, 50, 90, 180]))
readings = st.builds(
    lambda dt, param, value, status: ("reading", dt, param, value, status),
    st.floats(min_value=-5, max_value=120), st.sampled_from([*PARAMETERS, "BIS"]),
    values, st.sampled_from(list(Status)))
events = st.builds(lambda dt, kind: ("event", dt, kind),
                   st.floats(min_value=0, max_value=60), st.sampled_from(list(DeviceEventKind)))
commands = st.one_of(
    st.tuples(st.just("ack"), st.integers(0, 8)),
    st.tuples(st.just("reset"), st.integers(0, 8)),
    st.tuples(st.just("pause"), st.floats(min_value=0, max_value=300)),
    st.tuples(st.just("off"), st.sampled_from(["spo2", "hr", "nibp_sys"]), st.booleans()),
    st.tuples(st.just("baseline")),
    st.tuples(st.just("override")),
    st.tuples(st.just("limit"), st.sampled_from(["hr", "spo2"]), st.floats(70, 200)),
)
operations = st.lists(st.one_of(readings, events, commands), max_size=60)


def run(ops: list[Any]) -> list[Any]:
    """Apply `ops`; return every output, and check each alarm transition is allowed."""
    engine = RulesEngine(PROFILE)
    now = T
    outputs: list[Any] = []
    states: dict[int, AlarmState] = {}
    for op in ops:
        try:
            if op[0] == "reading":
                _, dt, param, value, status = op
                unit = PARAMETERS[param].unit if param in PARAMETERS else ""
                out = engine.process([Reading(now + dt, param, value, unit, status, "h")],
                                     now + max(dt, 0))
                now += max(dt, 0)
            elif op[0] == "event":
                now += op[1]
                out = engine.process([DeviceEvent(now, op[2], "h", {})], now)
            elif op[0] == "ack":
                out = engine.acknowledge(op[1], "u", now)
            elif op[0] == "reset":
                out = engine.reset(op[1], "u", now)
            elif op[0] == "pause":
                out = engine.pause_audio("u", now, op[1])
            elif op[0] == "off":
                out = engine.set_alarms_off(op[1], op[2], "u", now)
            elif op[0] == "baseline":
                out = engine.capture_baseline(now, "u")
            elif op[0] == "override":
                out = engine.override_gate("u", "reason", now)
            else:
                out = engine.set_limit(op[1], "high", "medium", op[2], "u", now)
        except IllegalTransition:
            continue  # an operator asking for the impossible is told so; state unchanged
        except ValueError as exc:
            # A limit that does not fit the others is refused with a message.
            assert op[0] == "limit", exc
            continue
        for change in out:
            if isinstance(change, AlarmChange):
                before = states.get(change.number, AlarmState.ACTIVE)
                if change.transition != "onset":
                    assert change.state in ALLOWED[before], (before, change)
                states[change.number] = change.state
        outputs += out
    assert all(not (isinstance(o, AlarmChange) and o.value is not None
                    and not math.isfinite(o.value)) for o in outputs)
    return outputs


@settings(max_examples=300, deadline=None)
@given(operations)
def test_no_input_makes_the_engine_raise_and_transitions_are_allowed(ops: list[Any]) -> None:
    run(ops)


@settings(max_examples=100, deadline=None)
@given(operations)
def test_a_rerun_gives_identical_alarms(ops: list[Any]) -> None:
    assert run(ops) == run(ops)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["spo2", "hr", "nibp_sys"]),
                          st.floats(min_value=20, max_value=250)), max_size=40))
def test_questionable_values_never_raise_physiological_alarms(series: list) -> None:
    engine = RulesEngine(PROFILE)
    out = []
    for i, (param, value) in enumerate(series):
        out += engine.process([Reading(T + i, param, value, PARAMETERS[param].unit,
                                       Status.QUESTIONABLE, "h")], T + i)
    assert not [o for o in out if isinstance(o, AlarmChange) and o.kind == "physiological"]
