"""Bad TOML everywhere: each gets one clear line and leaves stored data intact.

Two kinds of input a person (or a damaged file) gets wrong:

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
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from monitor.config import ConfigError, load_settings
from monitor.rules.profile import ProfileError, load_profile
from tests.conftest import REPO, SAMPLE_DATA, cli, free_port, stop_process
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
    return [pytest.param(case, id=case.id) for case in cases if where in case.via]


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


