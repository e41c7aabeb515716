"""Column names that other tools give vital signs, mapped onto canonical ids.

A wide CSV (one column per parameter) names its columns however the exporting
tool likes: ``HR``, ``ECG_HR``, ``Heart Rate``, ``NOM_ECG_CARD_BEAT_RATE``...
:func:`canonical_param` maps such a header onto an id of
:data:`devices.vocabulary.PARAMETERS`, ignoring case, spaces, underscores,
dashes, dots and a unit in brackets (``HR (/min)``, ``Temp [°C]``).

A header with no alias is not an error: the reader keeps the column under its
own name (DESIGN.md: "anything they cannot map is kept ... not dropped").

WFDB numerics records (PhysioNet, MIMIC) name their signals the same way
(``HR``, ``PULSE``, ``%SpO2``, ``NBP Sys``, ``NBPDias``, ``RESP``) and are
looked up with :func:`canonical_signal`, which keeps a bracketed part as part
of the name: a WFDB header carries units in their own field, so ``Pulse (ABP)``
is not ``Pulse``. Invasive pressures (``ABP Sys``, ``ART``, ``P1_Systolic``)
are deliberately absent: they are not NIBP and keep their own names.

This table only maps *names*. What foreign exports mean by their *values*
(VSCapture's ``0`` for "not measured", kPa, dates shifted by
de-identification) is handled in :mod:`devices.foreign`.
"""

from __future__ import annotations

import re

from devices.vocabulary import PARAMETERS

# Written as the exporting tools spell them, so the table can be checked
# against their documentation; the keys are normalised when the module loads.
_ALIASES_BY_PARAM: dict[str, tuple[str, ...]] = {
    "hr": ("hr", "HR", "ECG_HR", "ECG HR", "HeartRate", "Heart Rate", "Heart_Rate",
           "NOM_ECG_CARD_BEAT_RATE", "MDC_ECG_HEART_RATE"),
    "pulse_rate": ("pulse_rate", "PR", "Pulse", "PULSE", "PulseRate", "Pulse Rate", "SpO2_PR",
                   "SPO2_PR", "PLETH_PR", "Pleth_Rate", "NOM_PLETH_PULS_RATE",
                   "NOM_PULS_OXIM_PULS_RATE", "MDC_PULS_OXIM_PULS_RATE"),
    "spo2": ("spo2", "SpO2", "SPO2", "%SpO2", "SpO2_Sat", "NOM_PULS_OXIM_SAT_O2",
             "MDC_PULS_OXIM_SAT_O2"),
    "nibp_sys": ("nibp_sys", "NIBP_Systolic", "NIBP Systolic", "NBPSys", "NBP Sys", "NBP_Sys",
                 "NIBP_SYS", "NBP_S", "NIBPs", "NIBP_S", "NOM_PRESS_BLD_NONINV_SYS",
                 "MDC_PRESS_BLD_NONINV_SYS"),
    "nibp_dia": ("nibp_dia", "NIBP_Diastolic", "NIBP Diastolic", "NBPDia", "NBP_Dia",
                 "NBPDias", "NBP Dias", "NIBP Dias",
                 "NIBP_DIA", "NBP_D", "NIBPd", "NIBP_D", "NOM_PRESS_BLD_NONINV_DIA",
                 "MDC_PRESS_BLD_NONINV_DIA"),
    "nibp_mean": ("nibp_mean", "NIBP_Mean", "NIBP Mean", "NBPMean", "NBP Mean", "NBP_Mean",
                  "NIBP_MEAN", "NBP_M", "NIBPm", "NIBP_M", "NIBP_MAP",
                  "NOM_PRESS_BLD_NONINV_MEAN", "MDC_PRESS_BLD_NONINV_MEAN"),
    "resp_rate": ("resp_rate", "RESP", "Resp", "RR", "Resp_Rate", "RespRate",
                  "Respiratory Rate", "CO2_RR", "AWRR", "NOM_RESP_RATE",
                  "NOM_AWAY_RESP_RATE", "MDC_RESP_RATE"),
    "etco2": ("etco2", "EtCO2", "ET_CO2", "ETCO2", "CO2_ET", "NOM_AWAY_CO2_ET",
              "MDC_AWAY_CO2_ET"),
    "temp": ("temp", "Temp", "TEMP", "T1_Temp", "Temperature", "Body Temp", "NOM_TEMP",
             "MDC_TEMP"),
    "perf_index": ("perf_index", "PI", "Perf_Index", "PerfIndex", "Perfusion Index",
                   "NOM_PULS_OXIM_PERF_REL", "MDC_PULS_OXIM_PERF_REL"),
}

# A unit written after the name, in brackets: "HR (/min)", "Temp [°C]".
_UNIT_SUFFIX = re.compile(r"^(?P<name>.*?)\s*[(\[](?P<unit>[^()\[\]]*)[)\]]\s*$")
_IGNORED = re.compile(r"[\s_.\-]+")


def normalise_header(header: str) -> str:
    """The key a header is looked up by: lower case, no separators, no unit.

    Examples
    --------
    >>> normalise_header("NIBP_Systolic (mmHg)")
    'nibpsystolic'
    """
    name, _ = split_unit(header)
    return _IGNORED.sub("", name).casefold()


def split_unit(header: str) -> tuple[str, str | None]:
    """Split ``"Temp [°C]"`` into ``("Temp", "°C")``; no brackets gives ``(header, None)``.

    A UTF-8 byte-order mark and surrounding spaces are removed from the name.
    """
    text = header.replace("\ufeff", "").strip()
    match = _UNIT_SUFFIX.match(text)
    if match and match.group("name"):
        return match.group("name"), match.group("unit").strip()
    return text, None


ALIASES: dict[str, str] = {
    normalise_header(alias): param
    for param, aliases in _ALIASES_BY_PARAM.items()
    for alias in aliases
}
"""Normalised header (see :func:`normalise_header`) -> canonical parameter id."""

if not set(ALIASES.values()) <= set(PARAMETERS):  # pragma: no cover - a typo in the table
    raise RuntimeError(f"alias table names unknown ids: {set(ALIASES.values()) - set(PARAMETERS)}")


# Signal names whose bracketed part says which sensor (canonical_signal keeps it).
_QUALIFIED_SIGNALS = {"pulse(spo2)": "pulse_rate", "pulse(pleth)": "pulse_rate"}


def canonical_signal(name: str) -> str | None:
    """Canonical id of a WFDB signal name, or None when unknown.

    Like :func:`canonical_param`, but a bracketed part is part of the name
    (``Pulse (SpO2)`` is the oximeter's pulse, ``Pulse (ABP)`` is not).

    Examples
    --------
    >>> canonical_signal("NBP Sys"), canonical_signal("ABP Sys"), canonical_signal("Pulse (ABP)")
    ('nibp_sys', None, None)
    """
    key = _IGNORED.sub("", name.replace("\ufeff", "")).casefold()
    if "(" in key or "[" in key:
        return _QUALIFIED_SIGNALS.get(key)
    return ALIASES.get(key)


def canonical_param(header: str) -> str | None:
    """Canonical id a wide-CSV column header stands for, or None when unknown.

    Parameters
    ----------
    header : str
        Column header as written, e.g. ``"NIBP_Systolic"``, ``"Heart Rate (/min)"``.

    Returns
    -------
    str or None
        An id of :data:`~devices.vocabulary.PARAMETERS`, e.g. ``"nibp_sys"``.
    """
    return ALIASES.get(normalise_header(header))
