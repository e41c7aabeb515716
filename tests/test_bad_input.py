"""Bad input everywhere: each gets a clear error and leaves stored data intact.

Three kinds of input a person (or a damaged file, or a stray script) gets wrong:

1. **TOML files** through the real command line, as subprocesses: a clinic
   file (``run --config``) and an alarm profile (``record --profile``,
   ``import --profile``, and ``[rules] profile`` in a clinic file). Each
   mistake: exit status 2, exactly one line on stderr naming the file (and
   the key, where there is one), no traceback, and the store given with
   ``--db`` or ``[store] path`` left byte for byte as it was (or not created).
   The same cases, and more that differ only inside the loader, go through
   ``load_settings``/``load_profile`` in-process (a CLI run costs ~2 s of CPU).
2. **Mutated TOML** (hypothesis) through ``load_settings`` and
   ``load_profile`` in-process: nothing but ConfigError/ProfileError, in one
   line naming the file.
3. **Malformed requests** to a real ``serve`` process over a store holding
   one recorded session: Dash callback requests (``POST
   /_dash-update-component``) that are not JSON, not an object, name unknown
   outputs, lack inputs, or carry values of the wrong type or size; export
   downloads (``GET /export/<id>.<fmt>``) with unknown ids and formats, path
   traversal, non-numeric ids; random paths. Each answer is one of:

   - ``4xx``: refused by HTTP, Flask or Dash (400 bad request, 404, 405, 413, 415);
   - ``204``: Dash's "no update" (a callback raised PreventUpdate);
   - ``dash``: 200 with Dash's JSON answer, the callback having made sense of
     the value (e.g. "No session 999999.", or a fresh cursor);
   - ``index``: 200 with the dashboard's page, for a GET of a path the
     browser routes itself (Dash serves its page at every unknown GET path);
   - ``download``: 200 with the export file (the controls).

   Never a 5xx, never a traceback in the body, never a hang; the server keeps
   running, a normal overview tick still works after each, and afterwards
   the store holds the same sessions and readings and passes
   ``PRAGMA integrity_check``.

A real overview tick, as Chromium sends it (captured with Playwright from the
overview page; see ``monitor/web/overview_page.py``, callback ``tick``)::

    {"output": "..overview.children...screen-delta.data...screen-cursor.data..",
     "outputs": [{"id": "overview", "property": "children"},
                 {"id": "screen-delta", "property": "data"},
                 {"id": "screen-cursor", "property": "data"}],
     "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": 1}],
     "changedPropIds": ["overview-tick.n_intervals"],
     "parsedChangedPropsIds": ["overview-tick.n_intervals"],
     "state": [{"id": "screen-cursor", "property": "data",
                "value": {"readings": 13221, "transitions": 0, "events": 4,
                          "sessions": "1=1."}}]}
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.config import ConfigError, load_settings
from monitor.rules.profile import ProfileError, load_profile
from tests.conftest import REPO, SAMPLE_DATA, cli, free_port, stop_process, wait_for_port
from tests.toml_seeds import CLINIC_SEED as CLINIC_FILE
from tests.toml_seeds import PROFILE_SEED

SIM = "sim:?speed=max&post=5"
ERROR_PREFIX = "infusion-monitor: error: "
CLI_TIMEOUT = 60.0  # a refusal takes ~2 s; this only bounds a stuck process


# ======================================================================================
# 1. TOML files: through the real command line, and through the loaders in-process
# ======================================================================================

RUN, RECORD, IMPORT, LOADER = "run", "record", "import", "loader"


@dataclass(frozen=True)
class TomlCase:
    """A bad TOML file and what the one line about it must name.

    `text` is the file (str or bytes) with ``{db}``, ``{port}`` and ``{profile}``
    filled in; ``DIRECTORY``, ``MISSING`` and ``TOO_LONG`` make the path itself
    the mistake. `profile` is the text of a profile file ``[rules] profile``
    points to (the mistake is then in that file). `via`: the commands that get
    it as subprocesses, and ``loader`` for load_settings/load_profile in-process
    (each CLI run costs ~2 s of CPU, so mistakes that differ only inside the
    loader go through the loader alone).
    """

    id: str
    text: str | bytes
    names: tuple[str, ...] = ()
    via: frozenset[str] = frozenset({LOADER})
    profile: str | None = None


def via(*names: str) -> frozenset[str]:
    return frozenset(names)


DIRECTORY, MISSING, TOO_LONG = "<directory>", "<missing>", "<name too long>"
BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\xff\xfe\xfd"

STORE = '[store]\npath = "{db}"\n'
SERVER = "[server]\nport = {port}\n"
CHAIR = f'[[chairs]]\nname = "1"\ndevice = "{SIM}"\n'

CONFIG_CASES = [
    TomlCase("broken syntax", STORE + "[server\nport = 1\n", ("not valid TOML",),
             via(RUN, LOADER)),
    TomlCase("wrong type", STORE + '[server]\nport = "eighty"\n' + CHAIR, ("[server].port",),
             via(RUN, LOADER)),
    TomlCase("wrong type of table", STORE + SERVER + "chairs = 3\n", ("chairs",)),
    TomlCase("unknown key", STORE + SERVER + "[acquisition]\nsilence_timout = 10\n" + CHAIR,
             ("silence_timout",), via(RUN, LOADER)),
    TomlCase("unknown section", STORE + SERVER + "[aquisition]\n" + CHAIR, ("aquisition",)),
    TomlCase("unknown device protocol", STORE + SERVER +
             '[[chairs]]\nname = "1"\ndevice = "philips:/dev/ttyUSB0"\n',
             ("chairs[0].device", "philips"), via(RUN, LOADER)),
    TomlCase("unknown parameter in its profile",
             STORE + SERVER + '[rules]\nprofile = "{profile}"\n' + CHAIR, ("limits.heart_rate",),
             via(RUN), profile="[limits.heart_rate]\nlow = { medium = 50 }\n"),
    TomlCase("inverted limits in its profile",
             STORE + SERVER + '[rules]\nprofile = "{profile}"\n' + CHAIR, ("limits.nibp_sys.low",),
             via(RUN), profile="[limits.nibp_sys]\nlow = { medium = 200 }\n"),
    TomlCase("a directory", DIRECTORY, ("directory",), via(RUN, LOADER)),
    TomlCase("a missing file", MISSING, ("no such file",), via(RUN, LOADER)),
    TomlCase("a name too long for the file system", TOO_LONG, ("cannot read",)),
    TomlCase("a binary file", BINARY, ("cannot read",), via(RUN, LOADER)),
    TomlCase("an empty file", "", ("[[chairs]]",), via(RUN)),
    TomlCase("a huge number", STORE + "[server]\nport = 99999999999999999999999\n" + CHAIR,
             ("[server].port",), via(RUN, LOADER)),
    TomlCase("an integer literal of 5000 digits",
             STORE + "[server]\nport = " + "9" * 5000 + "\n" + CHAIR, ("not valid TOML",)),
    TomlCase("a negative port", STORE + "[server]\nport = -8050\n" + CHAIR, ("[server].port",),
             via(RUN, LOADER)),
    TomlCase("a negative timeout", STORE + SERVER + "[acquisition]\nsilence_timeout = -1\n"
             + CHAIR, ("[acquisition].silence_timeout",)),
    TomlCase("NaN", STORE + SERVER + "[acquisition]\nsilence_timeout = nan\n" + CHAIR,
             ("[acquisition].silence_timeout",), via(RUN, LOADER)),
    TomlCase("inf", STORE + SERVER + "[acquisition]\nsilence_timeout = inf\n" + CHAIR,
             ("[acquisition].silence_timeout",), via(RUN, LOADER)),
    TomlCase("a NUL byte in the store path", '[store]\npath = "{db}\\u0000x"\n' + SERVER + CHAIR,
             ("[store].path",), via(RUN, LOADER)),
    TomlCase("a key with a newline", STORE + SERVER + '[acquisition]\n"silence\\ntimeout" = 1\n'
             + CHAIR, ("[acquisition]",)),
]

PROFILE_CASES = [
    TomlCase("broken syntax", "[limits.spo2\nlow = { medium = 90 }\n", ("not valid TOML",),
             via(RECORD, IMPORT, LOADER)),
    TomlCase("wrong type", '[limits.spo2]\ndelay = "soon"\n', ("limits.spo2.delay",),
             via(RECORD, LOADER)),
    TomlCase("wrong type of table", "limits = 5\n", ("limits",)),
    TomlCase("unknown key", "[limits.spo2]\ndelya = 5\n", ("limits.spo2.delya",),
             via(RECORD, LOADER)),
    TomlCase("unknown parameter", "[limits.heart_rate]\nlow = { medium = 50 }\n",
             ("limits.heart_rate",), via(RECORD, IMPORT, LOADER)),
    TomlCase("unknown priority", "[limits.spo2]\nlow = { urgent = 80 }\n",
             ("limits.spo2.low.urgent",)),
    TomlCase("inverted limits", "[limits.nibp_sys]\nlow = { medium = 200 }\n",
             ("limits.nibp_sys.low",), via(RECORD, IMPORT, LOADER)),
    TomlCase("inverted bands", "[limits.spo2]\nlow = { medium = 85, high = 90 }\n",
             ("limits.spo2.low.high",)),
    TomlCase("a directory", DIRECTORY, ("cannot read",), via(RECORD, LOADER)),
    TomlCase("a missing file", MISSING, ("no such profile file",), via(RECORD, LOADER)),
    TomlCase("a name too long for the file system", TOO_LONG, ("cannot read",)),
    TomlCase("a binary file", BINARY, ("cannot read",), via(RECORD, IMPORT, LOADER)),
    TomlCase("an empty file", "", ("the profile is empty",), via(RECORD, IMPORT, LOADER)),
    TomlCase("a huge number", "[limits.spo2]\ndelay = 1e999\n", ("limits.spo2.delay",),
             via(RECORD, LOADER)),
    TomlCase("an integer literal of 5000 digits", "[limits.spo2]\ndelay = " + "9" * 5000 + "\n",
             ("not valid TOML",)),
    TomlCase("a huge count", "[saturation.spo2]\nviolations = 1e999\n",
             ("saturation.spo2.violations",)),
    TomlCase("a negative delay", "[limits.spo2]\ndelay = -5\n", ("limits.spo2.delay",),
             via(RECORD, LOADER)),
    TomlCase("NaN", "[limits.spo2]\nlow = { medium = nan }\n", ("limits.spo2.low.medium",),
             via(RECORD, IMPORT, LOADER)),
    TomlCase("inf", "[limits.nibp_sys]\nhigh = { medium = 150, high = inf }\n",
             ("limits.nibp_sys.high.high",), via(RECORD, LOADER)),
    TomlCase("a key with a newline", '[limits.spo2]\n"del\\nay" = 1\n', ("limits.spo2",)),
]


@dataclass
class CliRun:
    returncode: int | None   # None: still running when it was stopped (it accepted the file)
    stdout: str
    stderr: str
    bad_file: Path           # the file the one line must name
    store: Path
    store_before: bytes | None


def _sha(path: Path) -> bytes | None:
    return hashlib.sha256(path.read_bytes()).digest() if path.exists() else None


def _write_bad(path: Path, text: str | bytes, fill: dict[str, str]) -> Path:
    """Write a case's file (or make its path the mistake); returns the path to give."""
    if text == DIRECTORY:
        path.mkdir()
    elif text == MISSING:
        pass
    elif text == TOO_LONG:
        path = path.parent / ("x" * 300 + ".toml")
    elif isinstance(text, bytes):
        path.write_bytes(text)
    else:
        for key, value in fill.items():
            text = text.replace("{" + key + "}", value)
        path.write_text(text, encoding="utf-8")
    return path


def _run_until_done_or_serving(args: list[str], timeout: float) -> tuple[int | None, str, str]:
    """Run the CLI; stop it as soon as it says it serves (it accepted the clinic file)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=REPO,
                                   stdout=out, stderr=err, text=True)
        deadline = time.monotonic() + timeout
        code: int | None = None
        try:
            while time.monotonic() < deadline:
                code = process.poll()
                if code is not None:
                    break
                out.seek(0)
                if "Dashboard:" in out.read():
                    break
                time.sleep(0.1)
        finally:
            stop_process(process)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def _cli_case(command: str, case: TomlCase, folder: Path, recorded: Path,
              small_csv: Path) -> CliRun:
    folder.mkdir(parents=True)
    profile = folder / "profile.toml"
    if case.profile is not None:
        profile.write_text(case.profile, encoding="utf-8")
    if command == RECORD:
        store = folder / "new.db"  # must not be created
    else:
        store = folder / "existing.db"
        shutil.copyfile(recorded, store)
    before = _sha(store)
    fill = {"db": str(store), "port": str(free_port()), "profile": str(profile)}
    bad = _write_bad(folder / "bad.toml", case.text, fill)
    if command == RUN:
        code, out, err = _run_until_done_or_serving(["run", "--config", str(bad)], CLI_TIMEOUT)
        return CliRun(code, out, err, profile if case.profile else bad, store, before)
    if command == RECORD:
        args = ["record", "--device", SIM, "--db", str(store), "--profile", str(bad)]
    else:
        args = ["import", str(small_csv), "--db", str(store), "--profile", str(bad)]
    result = cli(*args, timeout=CLI_TIMEOUT)
    return CliRun(result.returncode, result.stdout, result.stderr, bad, store, before)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one recorded (simulated) session."""
    db = tmp_path_factory.mktemp("recorded") / "monitor.db"
    result = cli("record", "--device", SIM, "--db", str(db))
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The start of the sample session: a valid recording that imports in no time."""
    path = tmp_path_factory.mktemp("csv") / "short.csv"
    lines = (SAMPLE_DATA / "typical-session.csv").read_text().splitlines()[:200]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory, recorded: Path,
             small_csv: Path) -> Iterator[Callable[[str, TomlCase], CliRun]]:
    """Every CLI case started at once on a small pool (each is a ~2 s process); a test
    waits for its own."""
    folder = tmp_path_factory.mktemp("cli")
    jobs = [(command, case) for command, cases in ((RUN, CONFIG_CASES), (RECORD, PROFILE_CASES),
                                                   (IMPORT, PROFILE_CASES))
            for case in cases if command in case.via]
    futures: dict[tuple[str, str], Future[CliRun]] = {}
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 2) + 1) as pool:
        for n, (command, case) in enumerate(jobs):
            futures[command, case.id] = pool.submit(_cli_case, command, case,
                                                    folder / f"{n:02d}-{command}", recorded,
                                                    small_csv)
        yield lambda command, case: futures[command, case.id].result()
        for future in futures.values():
            future.cancel()


def _check_cli(run: CliRun, case: TomlCase) -> None:
    """The contract: exit 2, one line naming the file and key, the store as it was."""
    if "Traceback" in run.stderr:
        raise AssertionError(f"a traceback: {run.stderr.strip().splitlines()[-1][:300]}")
    if run.returncode is None:
        raise AssertionError(f"accepted the file and started serving: {run.stdout[:300]!r}")
    lines = run.stderr.strip().splitlines()
    store_now = _sha(run.store)
    problems = []
    if run.returncode != 2:
        problems.append(f"exit status {run.returncode}, not 2")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, not 1")
    elif not lines[0].startswith(ERROR_PREFIX) or str(run.bad_file) not in lines[0]:
        problems.append(f"the line does not name {run.bad_file}")
    else:
        missing = [name for name in case.names if name not in lines[0]]
        if missing:
            problems.append(f"the line does not name {missing}")
    if store_now != run.store_before:
        problems.append("the store was created" if run.store_before is None
                        else "the store's bytes changed")
    if problems:
        raise AssertionError("; ".join(problems) + f"\nstderr: {run.stderr[:600]!r}")


def _params(cases: list[TomlCase], where: str) -> list[Any]:
    params = []
    for case in cases:
        if where not in case.via:
            continue
        params.append(pytest.param(case, id=case.id))
    return params


@pytest.mark.parametrize("case", _params(CONFIG_CASES, RUN))
def test_run_refuses_a_bad_clinic_file_in_one_line(cli_runs: Any, case: TomlCase) -> None:
    _check_cli(cli_runs(RUN, case), case)


@pytest.mark.parametrize("case", _params(PROFILE_CASES, RECORD))
def test_record_refuses_a_bad_profile_in_one_line(cli_runs: Any, case: TomlCase) -> None:
    _check_cli(cli_runs(RECORD, case), case)


@pytest.mark.parametrize("case", _params(PROFILE_CASES, IMPORT))
def test_import_refuses_a_bad_profile_in_one_line(cli_runs: Any, case: TomlCase) -> None:
    _check_cli(cli_runs(IMPORT, case), case)


def test_import_with_a_bad_profile_creates_no_store(tmp_path: Path, small_csv: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits.heart_rate]\nlow = { medium = 50 }\n")
    store = tmp_path / "new.db"
    result = cli("import", str(small_csv), "--db", str(store), "--profile", str(bad),
                 timeout=CLI_TIMEOUT)
    run = CliRun(result.returncode, result.stdout, result.stderr, bad, store, None)
    _check_cli(run, TomlCase("import into a missing store", "", ("limits.heart_rate",)))


def _check_loader(load: Callable[[Path], Any], expected: type[Exception], case: TomlCase,
                  folder: Path) -> None:
    """The same contract in-process: only the loader's error, one line, file and key."""
    path = _write_bad(folder / "bad.toml", case.text,
                      {"db": str(folder / "x.db"), "port": "8050",
                       "profile": str(folder / "profile.toml")})
    try:
        load(path)
    except expected as exc:
        message = str(exc)
        if len(message.splitlines()) != 1:
            raise AssertionError(f"{len(message.splitlines())} lines: {message!r}") from None
        missing = [name for name in (str(path), *case.names) if name not in message]
        if missing:
            raise AssertionError(f"does not name {missing}: {message!r}") from None
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    else:
        raise AssertionError("accepted")


@pytest.mark.parametrize("case", _params(CONFIG_CASES, LOADER))
def test_load_settings_refuses_a_bad_clinic_file_in_one_line(tmp_path: Path,
                                                             case: TomlCase) -> None:
    _check_loader(load_settings, ConfigError, case, tmp_path)


@pytest.mark.parametrize("case", _params(PROFILE_CASES, LOADER))
def test_load_profile_refuses_a_bad_profile_in_one_line(tmp_path: Path, case: TomlCase) -> None:
    _check_loader(load_profile, ProfileError, case, tmp_path)


# ======================================================================================
# 2. Mutated TOML through the loaders, in-process (hypothesis)
# ======================================================================================

CLINIC_SEED = CLINIC_FILE.format(folder="data")

_NAMES = ["path", "port", "host", "name", "device", "profile", "delay", "low", "high",
          "medium", "area", "violations", "window", "priority", "nibp_sys", "spo2", "hr",
          "x", "chairs", "store", "limits", "gate", "stale_after", "max_change", "latching"]
_VALUES = st.one_of(
    st.sampled_from(["0", "-1", "1", "65536", "1e999", "-1e999", "inf", "-inf", "nan", "1e308",
                     "true", "false", "[]", "[1, 2]", "{}", "{ medium = 1 }", "1979-05-27",
                     "07:32:00", '"sim:"', '"nonsense"', '"high"', '"median"', "0x10",
                     "99999999999999999999999", '""']),
    st.integers(-10**9, 10**9).map(str),
    st.floats().map(repr),
    st.text(max_size=8).map(json.dumps),
)
_KEYS = st.one_of(st.sampled_from(_NAMES), st.text(min_size=1, max_size=6).map(json.dumps))
_LINES = st.one_of(
    st.tuples(_KEYS, _VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    st.lists(st.sampled_from(_NAMES), min_size=1, max_size=3).map(
        lambda parts: f"[{'.'.join(parts)}]"),
    st.just("[[chairs]]"),
)
_OPS = st.lists(st.one_of(
    st.tuples(st.just("value"), st.integers(0, 99), _VALUES),
    st.tuples(st.just("key"), st.integers(0, 99), _KEYS),
    st.tuples(st.just("insert"), st.integers(0, 99), _LINES),
    st.tuples(st.just("delete"), st.integers(0, 99), st.none()),
    st.tuples(st.just("duplicate"), st.integers(0, 99), st.none()),
    st.tuples(st.just("chars"), st.integers(0, 99),
              st.text(alphabet="[]{}=,.#\"' -+_0123456789eE\n\\", min_size=1, max_size=4)),
), min_size=1, max_size=6)


def _apply(seed: str, ops: list[tuple[str, int, Any]]) -> str:
    lines = seed.splitlines()
    for op, index, arg in ops:
        at = index % len(lines) if lines else 0
        if op == "insert" or not lines:
            lines.insert(at, arg if op == "insert" else "x = 1")
        elif op == "value" and "=" in lines[at]:
            lines[at] = f"{lines[at].partition('=')[0]}= {arg}"
        elif op == "key" and "=" in lines[at]:
            lines[at] = f"{arg} ={lines[at].partition('=')[2]}"
        elif op == "delete":
            del lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        elif op == "chars":
            line = lines[at]
            cut = index % (len(line) + 1)
            lines[at] = line[:cut] + arg + line[cut:]
    return "\n".join(lines) + "\n"


def _check_mutated(load: Callable[[Path], Any], expected: type[Exception], path: Path,
                   text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load(path)
    except Exception as exc:
        assert isinstance(exc, expected), f"{type(exc).__name__}: {exc}"
        message = str(exc)
        assert len(message.splitlines()) == 1, message
        assert str(path) in message, message
        event("refused in one line")
    else:
        event("accepted")


MUTATION_SETTINGS = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def toml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("toml")


@MUTATION_SETTINGS
@given(ops=_OPS)
def test_a_mutated_clinic_file_is_only_ever_a_one_line_config_error(
        toml_dir: Path, ops: list[tuple[str, int, Any]]) -> None:
    _check_mutated(load_settings, ConfigError, toml_dir / "clinic.toml",
                   _apply(CLINIC_SEED, ops))


@MUTATION_SETTINGS
@given(ops=_OPS)
def test_a_mutated_profile_is_only_ever_a_one_line_profile_error(
        toml_dir: Path, ops: list[tuple[str, int, Any]]) -> None:
    _check_mutated(load_profile, ProfileError, toml_dir / "profile.toml",
                   _apply(PROFILE_SEED, ops))


# ======================================================================================
# 3. Malformed requests to a running dashboard
# ======================================================================================

UPDATE = "/_dash-update-component"
OVERVIEW = "..overview.children...screen-delta.data...screen-cursor.data.."
OVERVIEW_OUTPUTS = [{"id": "overview", "property": "children"},
                    {"id": "screen-delta", "property": "data"},
                    {"id": "screen-cursor", "property": "data"}]
CHAIR_OUTPUTS = [("trend", "extendData"), ("trend-cursor", "data"), ("chair-delta", "data"),
                 ("alarm-panel", "children"), ("trend", "figure"), ("chair-versions", "data"),
                 ("checklist-panel", "children"), ("baseline-panel", "children"),
                 ("device-line", "children"), ("chair-reload", "href")]
CHAIR_TICK = "..{}..".format("...".join(f"{i}.{p}" for i, p in CHAIR_OUTPUTS))
REQUEST_TIMEOUT = 15.0


def tick_body(cursor: Any = None, n: Any = 1, **override: Any) -> dict[str, Any]:
    """An overview tick exactly as the browser sends it (see the module docstring)."""
    body = {"output": OVERVIEW, "outputs": OVERVIEW_OUTPUTS,
            "inputs": [{"id": "overview-tick", "property": "n_intervals", "value": n}],
            "changedPropIds": ["overview-tick.n_intervals"],
            "parsedChangedPropsIds": ["overview-tick.n_intervals"],
            "state": [{"id": "screen-cursor", "property": "data", "value": cursor}]}
    body.update(override)
    return body


def callback_body(output: str, outputs: Any, inputs: list[tuple[Any, str, Any]],
                  state: list[tuple[Any, str, Any]] = ()) -> dict[str, Any]:
    """Any other callback's request, in the same shape."""
    def prop(item: tuple[Any, str, Any]) -> dict[str, Any]:
        return {"id": item[0], "property": item[1], "value": item[2]}

    def prop_id(item: tuple[Any, str, Any]) -> str:
        id_ = item[0]
        if isinstance(id_, dict):
            id_ = json.dumps(id_, separators=(",", ":"), sort_keys=True)
        return f"{id_}.{item[1]}"

    changed = [prop_id(i) for i in inputs[:1]]
    body = {"output": output, "outputs": outputs, "inputs": [prop(i) for i in inputs],
            "changedPropIds": changed, "parsedChangedPropsIds": changed}
    if state:
        body["state"] = [prop(s) for s in state]
    return body


def _one(id_: str, prop: str) -> dict[str, str]:
    return {"id": id_, "property": prop}


def route(pathname: Any, search: Any = "") -> dict[str, Any]:
    return callback_body("page.children", _one("page", "children"), [("url", "pathname", pathname)],
                         [("url", "search", search)])


def chair_tick(ref: Any, cursor: Any = None, versions: Any = None) -> dict[str, Any]:
    return callback_body(CHAIR_TICK, [_one(i, p) for i, p in CHAIR_OUTPUTS],
                         [("chair-tick", "n_intervals", 1)],
                         [("chair-ref", "data", ref), ("trend-cursor", "data", cursor),
                          ("chair-versions", "data", versions)])


def review_at(offset: Any, ref: Any) -> dict[str, Any]:
    # Outputs that allow_duplicate get a hash suffix; read from /_dash-dependencies.
    return {"$review-at": (offset, ref)}


def review_rerun(contents: Any, ref: Any) -> dict[str, Any]:
    return callback_body("review-rerun.children", _one("review-rerun", "children"),
                         [("review-profile", "contents", contents)],
                         [("review-profile", "filename", "x.toml"), ("review-ref", "data", ref)])


def sessions_filter(start: Any, end: Any = None, chair: Any = None,
                    patient: Any = None) -> dict[str, Any]:
    return callback_body("sessions-table.children", _one("sessions-table", "children"),
                         [("sessions-dates", "start_date", start),
                          ("sessions-dates", "end_date", end),
                          ("sessions-chair", "value", chair),
                          ("sessions-patient", "value", patient)])


def alarm_ack(ref: Any, user: Any = None, *, inputs: Any = None,
              changed: list[str] | None = None) -> dict[str, Any]:
    """An Acknowledge press (an ALL-pattern callback); `inputs`, `changed` replace the
    pattern inputs and changedPropIds a browser would send."""
    return {"$alarm-ack": (ref, user, inputs, changed)}


@dataclass(frozen=True)
class Req:
    """One malformed request and the answers that are right for it."""

    id: str
    method: str
    path: str
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    allowed: tuple[str, ...] = ("4xx",)
    timeout: float = REQUEST_TIMEOUT


JSON_HEADERS = {"Content-Type": "application/json"}
TICK_FRESH = ("4xx", "204", "dash")  # a bad cursor: refuse it, or start the picture afresh
ANY_CLEAR = ("4xx", "204", "dash")


REQUESTS = [
    # -- the envelope (monitor/web/envelope.py) ------------------------------------------
    Req("not JSON", "POST", UPDATE, data=b"{not json", headers=JSON_HEADERS),
    Req("no JSON content type", "POST", UPDATE, data=b"hello"),
    Req("JSON that is a list", "POST", UPDATE, json=[1, 2]),
    Req("JSON that is a string", "POST", UPDATE, json="tick"),
    Req("JSON null", "POST", UPDATE, data=b"null", headers=JSON_HEADERS),
    Req("an empty object", "POST", UPDATE, json={}),
    Req("unknown callback output", "POST", UPDATE, json=tick_body(output="nope.children")),
    Req("an output that is a number", "POST", UPDATE, json=tick_body(output=5)),
    Req("a clientside callback's output", "POST", UPDATE,
        json=tick_body(output="screen-applied.data")),
    Req("missing inputs", "POST", UPDATE, json={"output": OVERVIEW, "outputs": OVERVIEW_OUTPUTS}),
    Req("inputs not a list", "POST", UPDATE, json=tick_body(inputs=5)),
    Req("inputs of the wrong shape", "POST", UPDATE, json=tick_body(inputs=[1])),
    Req("missing state", "POST", UPDATE,
        json={k: v for k, v in tick_body().items() if k != "state"}),
    Req("outputs of the wrong shape", "POST", UPDATE, json=tick_body(outputs=[1, 2, 3])),
    Req("fewer outputs than the callback has", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS[:1])),
    Req("one output object for a multi-output callback", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS[0])),
    Req("more outputs than the callback has", "POST", UPDATE,
        json=tick_body(outputs=OVERVIEW_OUTPUTS * 2)),
    Req("a pattern input sent as one object", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None,
                       inputs=[{"id": {"type": "alarm-ack", "n": 1}, "property": "n_clicks",
                                "value": 1}, {"id": {"type": "alarm-reset", "n": 1},
                                              "property": "n_clicks", "value": 1}])),
    Req("a trigger that is not JSON", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None, changed=["{bad.n_clicks"])),
    Req("a trigger that is a plain id", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, None, changed=["x.n_clicks"])),
    Req("a trigger without the pattern's key", "POST", UPDATE,
        json=alarm_ack({"chair": "1", "session": 1}, "nurse",
                       inputs=[[{"id": {"type": "alarm-ack"}, "property": "n_clicks",
                                 "value": 1}], []],
                       changed=['{"type":"alarm-ack"}.n_clicks'])),
    Req("deeply nested JSON", "POST", UPDATE, headers=JSON_HEADERS,
        data=b'{"output": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
    Req("a 10 MB body", "POST", UPDATE, headers=JSON_HEADERS,
        data=json.dumps(tick_body({"readings": 0, "transitions": 0, "events": 0,
                                   "sessions": "x" * (10 * 1024 * 1024)})).encode(),
        allowed=("4xx", "dash"), timeout=60.0),
    # -- the overview tick's cursor ------------------------------------------------------
    Req("a cursor that is a string", "POST", UPDATE, json=tick_body("abc"), allowed=TICK_FRESH),
    Req("a cursor that is a list", "POST", UPDATE, json=tick_body([1, 2]), allowed=TICK_FRESH),
    Req("a cursor count that is text", "POST", UPDATE, json=tick_body({"readings": "abc"}),
        allowed=TICK_FRESH),
    Req("a cursor count that is Infinity", "POST", UPDATE, headers=JSON_HEADERS,
        data=b'{"output": "%s", "outputs": %s, "inputs": [{"id": "overview-tick", '
             b'"property": "n_intervals", "value": 1}], "changedPropIds": '
             b'["overview-tick.n_intervals"], "state": [{"id": "screen-cursor", "property": '
             b'"data", "value": {"readings": Infinity}}]}'
             % (OVERVIEW.encode(), json.dumps(OVERVIEW_OUTPUTS).encode()),
        allowed=TICK_FRESH),
    Req("negative cursor counts", "POST", UPDATE,
        json=tick_body({"readings": -5, "transitions": -1, "events": -1, "sessions": ""}),
        allowed=TICK_FRESH),
    Req("cursor counts beyond any id", "POST", UPDATE,
        json=tick_body({"readings": 10**30, "transitions": 10**30, "events": 10**30,
                        "sessions": "1=1."}), allowed=TICK_FRESH),
    Req("cursor counts too negative for SQLite", "POST", UPDATE,
        json=tick_body({"readings": 0, "transitions": -10**30, "events": -10**30,
                        "sessions": "1=1."}), allowed=TICK_FRESH),
    Req("a huge n_intervals", "POST", UPDATE, json=tick_body(None, n=10**100),
        allowed=TICK_FRESH),
    # -- other callbacks: a session id that does not exist, wrong types -----------------
    Req("a page path that is a number", "POST", UPDATE, json=route(5), allowed=("4xx", "dash")),
    Req("a page search that is a list", "POST", UPDATE, json=route("/review/1", ["x"]),
        allowed=("4xx", "dash")),
    Req("a review of a session that does not exist", "POST", UPDATE, json=route("/review/999999"),
        allowed=("dash",)),
    Req("a review of a huge session id", "POST", UPDATE, json=route("/review/" + "9" * 30),
        allowed=("dash",)),
    Req("a chair page of a negative session", "POST", UPDATE, json=route("/session/-1"),
        allowed=("dash",)),
    Req("a chair page of a huge session id", "POST", UPDATE, json=route("/session/" + "9" * 30),
        allowed=("dash",)),
    Req("a review at a huge speed", "POST", UPDATE, json=route("/review/1", "?speed=" + "9" * 30),
        allowed=("dash",)),
    Req("a chair tick for a session that does not exist", "POST", UPDATE,
        json=chair_tick({"chair": "1", "session": 999999, "follow": False}), allowed=ANY_CLEAR),
    Req("a chair tick whose state is text", "POST", UPDATE, json=chair_tick("x", "y", "z"),
        allowed=ANY_CLEAR),
    Req("a chair tick with a cursor that is text", "POST", UPDATE,
        json=chair_tick({"chair": "1", "session": 1, "follow": False}, "y", {}),
        allowed=ANY_CLEAR),
    Req("a sessions filter with a date that is not one", "POST", UPDATE,
        json=sessions_filter("notadate"), allowed=ANY_CLEAR),
    Req("a sessions filter with a number for the patient", "POST", UPDATE,
        json=sessions_filter(None, patient=5), allowed=ANY_CLEAR),
    Req("a user name that is a number", "POST", UPDATE,
        json=callback_body("user.data", _one("user", "data"), [("user-name", "value", 5)]),
        allowed=ANY_CLEAR),
    Req("a what-if for a session that does not exist", "POST", UPDATE,
        json=review_rerun("data:;base64,", {"session": 999999}), allowed=ANY_CLEAR),
    Req("a what-if whose upload is a number", "POST", UPDATE,
        json=review_rerun(5, {"session": 1}), allowed=ANY_CLEAR),
    Req("a review position that is text", "POST", UPDATE,
        json=review_at("abc", {"session": 1, "start": 0, "cursor_shape": 4, "offset": 0,
                               "times": []}), allowed=ANY_CLEAR),
    Req("a review position that is huge", "POST", UPDATE,
        json=review_at(1e300, {"session": 1, "start": 0, "cursor_shape": 4, "offset": 0,
                               "times": []}), allowed=ANY_CLEAR),
    Req("a review whose page record is a list", "POST", UPDATE, json=review_at(5, [1]),
        allowed=ANY_CLEAR),
    Req("a button press with no user and a bogus chair", "POST", UPDATE,
        json=alarm_ack("x"), allowed=ANY_CLEAR),
    # -- exports (monitor/web/exports.py) and other paths -------------------------------
    Req("an export of an unknown session", "GET", "/export/999.csv", allowed=("4xx",)),
    Req("an export in an unknown format", "GET", "/export/1.xml", allowed=("4xx",)),
    Req("an export with no format", "GET", "/export/1", allowed=("4xx", "index")),
    Req("an export by path traversal", "GET", "/export/..%2f..%2fetc%2fpasswd",
        allowed=("4xx", "index")),
    Req("an export by path traversal, in the format", "GET", "/export/1.%2e%2e%2fpasswd",
        allowed=("4xx", "index")),
    Req("an export by dotted traversal", "GET", "/export/../../etc/passwd",
        allowed=("4xx", "index")),
    Req("an export with a non-numeric id", "GET", "/export/abc.csv", allowed=("4xx", "index")),
    Req("an export with a negative id", "GET", "/export/-1.csv", allowed=("4xx", "index")),
    Req("an export with a huge id", "GET", "/export/" + "9" * 40 + ".csv", allowed=("4xx",)),
    Req("an asset by path traversal", "GET", "/assets/..%2f..%2fetc%2fpasswd",
        allowed=("4xx", "index")),
    Req("a component file that does not exist", "GET", "/_dash-component-suites/dash/nope.js",
        allowed=("4xx",)),
    Req("the update endpoint with PUT", "PUT", UPDATE, allowed=("4xx",)),
    # -- controls: what a browser asks for, answered normally -------------------------
    Req("control: an export as CSV", "GET", "/export/1.csv", allowed=("download",)),
    Req("control: a review page", "POST", UPDATE, json=route("/review/1"), allowed=("dash",)),
]


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[str]
    db: Path
    routes: dict[str, str]     # callback name -> its output key (some carry a hash suffix)

    def post(self, body: Any, timeout: float = REQUEST_TIMEOUT) -> requests.Response:
        return requests.post(self.url + UPDATE, json=body, timeout=timeout)


def _snapshot(db: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {
            "sessions": conn.execute("SELECT id, chair, started_at, ended_at FROM sessions "
                                     "ORDER BY id").fetchall(),
            "readings": conn.execute("SELECT count(*) FROM readings").fetchone()[0],
            "commands": conn.execute("SELECT count(*) FROM commands").fetchone()[0],
            "integrity": conn.execute("PRAGMA integrity_check").fetchall(),
        }


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, recorded: Path) -> Iterator[Dashboard]:
    """``serve`` over a copy of the recorded store, as a real process."""
    folder = tmp_path_factory.mktemp("dashboard")
    db = folder / "monitor.db"
    shutil.copyfile(recorded, db)
    port = free_port()
    # Output to files, not pipes: nobody reads a pipe here, and a server whose stderr
    # pipe is full (each 500 logs a traceback) blocks on its next write.
    with (folder / "serve.out").open("w") as out, (folder / "serve.err").open("w") as err:
        process = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--db", str(db),
                                    "--port", str(port)], cwd=REPO, text=True,
                                   stdout=out, stderr=err)
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}"
        dependencies = requests.get(url + "/_dash-dependencies", timeout=REQUEST_TIMEOUT).json()
        routes = {}
        for dep in dependencies:
            output = dep["output"]
            if "review-moment.children" in output:
                routes["review-at"] = output
            elif "chair-feedback" in output and "alarm-ack" in json.dumps(dep["inputs"]):
                routes["alarm-ack"] = output
        yield Dashboard(url, process, db, routes)
    finally:
        stop_process(process)


def _resolve(body: Any, dash: Dashboard) -> Any:
    """Fill in the callbacks whose output names carry a hash (read from the server)."""
    if isinstance(body, dict) and "$review-at" in body:
        offset, ref = body["$review-at"]
        output = dash.routes["review-at"]
        outputs = [_one(part.split(".")[0], part.split(".", 1)[1])
                   for part in output.strip(".").split("...")]
        return callback_body(output, outputs, [("review-scrub", "value", offset)],
                             [("review-ref", "data", ref)])
    if isinstance(body, dict) and "$alarm-ack" in body:
        ref, user, inputs, changed = body["$alarm-ack"]
        output = dash.routes["alarm-ack"]
        outputs = [_one(part.split(".")[0], part.split(".", 1)[1])
                   for part in output.strip(".").split("...")]
        body = callback_body(output, outputs, [({"type": "alarm-ack", "n": 1}, "n_clicks", 1)],
                             [("chair-ref", "data", ref), ("user", "data", user)])
        body["inputs"] = inputs if inputs is not None else [
            [{"id": {"type": "alarm-ack", "n": 1}, "property": "n_clicks", "value": 1}], []]
        body["changedPropIds"] = changed if changed is not None else [
            '{"n":1,"type":"alarm-ack"}.n_clicks']
        return body
    return body


def _kind(response: requests.Response) -> str:
    """Which of the module docstring's answers this is."""
    status = response.status_code
    if 400 <= status < 500:
        return "4xx"
    if status == 204:
        return "204"
    if status == 200:
        kind = response.headers.get("Content-Type", "")
        if kind.startswith("application/json") and '"response"' in response.text[:200]:
            return "dash"
        if kind.startswith("text/html") and "_dash-config" in response.text:
            return "index"
        if "attachment" in response.headers.get("Content-Disposition", ""):
            return "download"
    return f"{status} {response.headers.get('Content-Type', '')}"


def _normal_tick(dash: Dashboard) -> None:
    response = dash.post(tick_body())
    assert response.status_code == 200, response.text[:300]
    answer = response.json()["response"]
    assert answer["screen-cursor"]["data"]["readings"] > 0


def _check_request(dash: Dashboard, req: Req) -> None:
    kwargs: dict[str, Any] = {"headers": req.headers, "timeout": req.timeout}
    if req.json is not None:
        kwargs["json"] = _resolve(req.json, dash)
    elif req.data is not None:
        kwargs["data"] = req.data
    try:
        response = requests.request(req.method, dash.url + req.path, **kwargs)
    except requests.Timeout:
        pytest.fail(f"no answer within {req.timeout:g} s")
    assert "Traceback" not in response.text, response.text[:2000]
    assert "root:x:0:0" not in response.text  # nothing outside the app is ever served
    assert dash.process.poll() is None, "the server process died"
    _normal_tick(dash)
    kind = _kind(response)
    if response.status_code >= 500:
        raise AssertionError(f"{response.status_code}: {response.text[:200]!r}")
    assert kind in req.allowed, f"answered {kind}, expected one of {req.allowed}"


@pytest.mark.parametrize("req", [
    pytest.param(r, id=r.id) for r in REQUESTS])
def test_a_malformed_request_gets_a_clear_answer(dashboard: Dashboard, req: Req) -> None:
    _check_request(dashboard, req)


RANDOM_SEGMENTS = ["export", "review", "chair", "session", "sessions", "assets", "_dash-layout",
                   "..", ".", "%2e%2e", "%2f", "%00", "%ff", "~root", "1", "-1", "9" * 25,
                   "a" * 300, "ü", "%E2%80%AE", "index.html", "favicon.ico", ";", "%3Cscript%3E",
                   "1.csv", "1.json", "1.html", "x.exe", "?", "#", "&", "%20"]


def test_random_paths_get_the_page_or_a_4xx(dashboard: Dashboard) -> None:
    rng = random.Random(7)
    for _ in range(40):
        path = "/" + "/".join(rng.choice(RANDOM_SEGMENTS) for _ in range(rng.randint(1, 4)))
        method = rng.choice(["GET", "GET", "GET", "HEAD", "DELETE", "OPTIONS"])
        response = requests.request(method, dashboard.url + path, timeout=REQUEST_TIMEOUT)
        assert response.status_code < 500, (method, path, response.status_code)
        assert "Traceback" not in response.text and "root:x:0:0" not in response.text
        if method == "GET" and response.status_code == 200 and not path.startswith("/_dash-"):
            assert _kind(response) in ("index", "download"), (path, _kind(response))
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)


def _random_envelopes(count: int) -> Iterator[Any]:
    """A real tick with one part dropped or replaced by a random JSON value."""
    rng = random.Random(11)
    odd = [None, 0, -1, 10**30, 1.5, "", "x", [], [None], {}, {"id": 1}, True,
           [{"id": "overview-tick"}], [{"property": "n_intervals"}]]
    for _ in range(count):
        body = tick_body({"readings": 0, "transitions": 0, "events": 0, "sessions": ""})
        key = rng.choice(list(body))
        if rng.random() < 0.3:
            del body[key]
        elif key in ("inputs", "state") and rng.random() < 0.5:
            body[key] = [dict(body[key][0], **{rng.choice(["id", "property", "value"]):
                                               rng.choice(odd)})]
        else:
            body[key] = rng.choice(odd)
        yield body


def test_random_damage_to_a_real_tick_gets_a_clear_answer(dashboard: Dashboard) -> None:
    answered_5xx = []
    for body in _random_envelopes(40):
        response = dashboard.post(body)
        assert "Traceback" not in response.text
        if response.status_code >= 500:
            answered_5xx.append(json.dumps(body)[:160])
        else:
            assert _kind(response) in TICK_FRESH, (body, _kind(response))
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)
    if answered_5xx:
        raise AssertionError(f"{len(answered_5xx)} of 40 answered 5xx, e.g. {answered_5xx[0]}")


def test_after_every_bad_request_the_store_is_intact(dashboard: Dashboard,
                                                     recorded: Path) -> None:
    """Run last in this module (pytest keeps file order): the same sessions and readings
    as the recorded store, no command written, integrity ok, the server still serving."""
    assert dashboard.process.poll() is None
    _normal_tick(dashboard)
    before, after = _snapshot(recorded), _snapshot(dashboard.db)
    assert after["integrity"] == [("ok",)]
    assert after["sessions"] == before["sessions"] and len(after["sessions"]) == 1
    assert after["readings"] == before["readings"] > 0
    assert after["commands"] == before["commands"]
