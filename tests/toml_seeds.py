"""Well-formed TOML files to mutate: a clinic file and an alarm profile.

Shared by tests/test_bad_toml.py (hypothesis mutations, in CI) and
bench/fuzz_decoders.py (long random mutations). Each sets most keys its
loader knows, so that a mutation lands on a real setting more often than not.
``CLINIC_SEED`` has a ``{folder}`` to fill in for its store.
"""

CLINIC_SEED = """\
[store]
path = "{folder}/clinic.db"
commit_interval = 0.5

[server]
host = "127.0.0.1"
port = 8050
poll_interval = 1.0

[acquisition]
silence_timeout = 10
reconnect_first = 1.0
reconnect_cap = 30.0

[rules]
profile = "ketamine-adult"

[[chairs]]
name = "1"
device = "sim:?scenario=typical&seed=2&speed=600"

[[chairs]]
name = "2"
device = "masimo:/dev/ttyUSB0"
profile = "ketamine-adult"

[[chairs]]
name = "3"
device = "csv:sample_data/typical-session.csv?speed=10"
"""

PROFILE_SEED = """\
name = "our-clinic"
description = "a clinic's own limits"

[limits.nibp_sys]
low = { medium = 95 }
high = { medium = 150, high = 175 }
delay = 0
hysteresis = 4

[limits.spo2]
low = { medium = 92, high = 86 }
delay = 10

[baseline_limits.hr]
high_percent = 30
low_change = 20
priority = "low"

[saturation.spo2]
area = 40
violations = 2
window = 30

[rate.nibp_sys]
max_change = 25
priority = "high"

[technical]
stale_after = 15
stale_priority = "high"
nibp_overdue_grace = 60

[schedule]
nibp_during = 5
nibp_after = 10

[alarms]
audio_pause = 90
[alarms.latching]
high = true
medium = false

[gate]
nibp_sys = 150
nibp_dia = 95

[discharge]
spo2_above = 94
"""
