"""Long fuzzing of every decoder and importer, and of everything a user types or edits.

CI runs each decoder's hypothesis tests with a fixed example budget; this runs
for as long as you like. Each round takes something valid, mutates it (bit
flips, insertions, deletions, duplicated and swapped chunks, random garbage,
odd values in place of good ones) and hands it to the code that reads it:

- ``protocols``: a simulated conversation's device bytes (and the real GE
  capture) fed to each protocol's host link in random-sized pieces;
- ``csv``: the CSV reader (devices.csv_format.read_recording);
- ``wfdb``: the WFDB numerics importer (monitor.importer.read_file on a
  ``.hea``), over small records written here with ``wfdb.wrsamp`` and the
  shipped ``tests/data/numerics-2150n``, header text and ``.dat`` bytes mutated;
- ``capture``: raw-capture import (devices.capture.decode_capture) for every
  serial protocol, with and without a ``.times`` index, odd options too;
- ``settings``: the clinic TOML loader (monitor.config.load_settings);
- ``profile``: the alarm profile loader (monitor.rules.profile.load_profile);
- ``spec``: device spec strings (devices.registry.open_adapter).

A failure is any exception other than the one-line error each reads with
(RecordingError, ConfigError, ProfileError, SpecError), a ConfigError or
ProfileError whose message spans more than one line or does not name the
file, an import that accepts times the program cannot write back (outside
years 1-9999), or a round that takes longer than ``--round-limit`` seconds.
Each distinct failure (exception type and place) is printed once, with a
reproducer file; the counts say how often each happened. Exits 1 on any.

    python bench/fuzz_decoders.py [--seconds 60] [--seed 1] [--only wfdb,profile]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(REPO))

from bench_decode import PROTOCOLS, capture  # noqa: E402

from devices.capture import decode_capture  # noqa: E402
from devices.csv_format import RecordingError, read_recording  # noqa: E402
from devices.link import HostLink  # noqa: E402
from devices.registry import open_adapter  # noqa: E402
from devices.spec import SpecError  # noqa: E402
from devices.transport import times_path  # noqa: E402
from monitor.config import ConfigError, load_settings  # noqa: E402
from monitor.importer import read_file  # noqa: E402
from monitor.rules.profile import PROFILES_DIR, ProfileError, load_profile  # noqa: E402
from tests.toml_seeds import CLINIC_SEED, PROFILE_SEED  # noqa: E402

REAL_CAPTURES = {"datex interval=1": REPO / "tests" / "data" / "ge-datex-s5-capture.raw"}
SAMPLE_CSV = REPO / "sample_data" / "typical-session.csv"
SHIPPED_WFDB = REPO / "tests" / "data" / "numerics-2150n.hea"
SHIPPED_PROFILE = PROFILES_DIR / "ketamine-adult.toml"
SECTIONS = ("protocols", "csv", "wfdb", "capture", "settings", "profile", "spec")

# Times an importer may hand on: what the export can write back (years 1-9999).
MIN_MS = int((dt.datetime(1, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
             / dt.timedelta(milliseconds=1))
MAX_MS = int((dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=dt.UTC)
              - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(milliseconds=1))


# -- mutation ---------------------------------------------------------------------------

def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if not out:
            out += rng.randbytes(rng.randint(1, 64))
            continue
        at = rng.randrange(len(out))
        choice = rng.random()
        if choice < 0.3:
            out[at] ^= 1 << rng.randrange(8)
        elif choice < 0.5:
            out[at:at] = rng.randbytes(rng.randint(1, 40))
        elif choice < 0.65:
            del out[at:at + rng.randint(1, 40)]
        elif choice < 0.8:
            piece = out[at:at + rng.randint(1, 200)]
            out[rng.randrange(len(out)):0] = piece
        elif choice < 0.9:
            out[at] = rng.choice(b"\x00\x01\x7e\x7d\xc0\xc1\xff\r\n,=")
        else:
            out[at:at + 1] = bytes([rng.randrange(256)]) * rng.randint(1, 100)
    return bytes(out)


# Odd things to put where a value, a key or a line was: the edges a person or a
# damaged file produce (TOML values, header fields, option values alike).
ODD_VALUES = [
    "0", "-0", "-1", "1", "-5", "65536", "99999", "1e999", "-1e999", "1e-300", "1e308",
    "inf", "-inf", "+inf", "nan", "-nan", "0.5", "3.14159", "9" * 30, "-" + "9" * 30,
    "9" * 4400, "true", "false", '""', '"x"', '"\\n"', '"a\\nb"', '"\\u0000"', '"\\r"',
    '"\\u2028"', '"ü"', "[]", "[1, 2]", '["a"]', "{}", "{ a = 1 }", "1979-05-27",
    "07:32:00", "1979-05-27T07:32:00Z", "0x10", "0o7", "0b1", "1_000", "'''x'''",
    '"sim:?speed=nan"', '"sim:?x"', '"nonsense"', '"csv:/no/such.csv"', '"high"', '"low"',
    '"urgent"', '"median"',
]
ODD_LINES = [
    "[limits.spo2]", "[limits.nope]", "[limits.hr.low]", "[[chairs]]", "[store]", "[server]",
    "[acquisition]", "[rules]", "[alarms.latching]", "[saturation.spo2]", "[gate]",
    "[schedule]", "[technical]", "[baseline_limits.hr]", "[rate.nibp_sys]",
    '"a\\nb" = 1', '"\\r" = 2', "x = 1", "port = -1", "port = 1e999", "delay = nan",
    "silence_timeout = inf", "violations = inf", "violations = nan", "window = -1",
    "area = inf", "medium = nan", "high = -1e10", "low = { medium = 999 }",
    "name = '1'", "device = 'sim:'", "path = ''", "profile = '/no/such.toml'", "[", "]", "=",
    "a = ", "= 1", "[a.b", "x = [1,", "\"unterminated = 1",
]


def mutate_text(text: str, rng: random.Random) -> bytes:
    """A TOML-ish or header text, mutated by token and by line (and now and then, by byte)."""
    if rng.random() < 0.15:
        return mutate(text.encode(), rng)
    lines = text.splitlines()
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        at = rng.randrange(len(lines)) if lines else 0
        if not lines or choice < 0.1:
            lines.insert(at, rng.choice(ODD_LINES))
        elif choice < 0.55:  # replace one value (after '=', or one whitespace token)
            line = lines[at]
            if "=" in line and rng.random() < 0.7:
                key, _, _ = line.partition("=")
                lines[at] = f"{key}= {rng.choice(ODD_VALUES)}"
            else:
                tokens = line.split(" ")
                tokens[rng.randrange(len(tokens))] = rng.choice(ODD_VALUES).strip('"')
                lines[at] = " ".join(tokens)
        elif choice < 0.65:
            del lines[at]
        elif choice < 0.75:
            lines.insert(rng.randrange(len(lines) + 1), lines[at])
        elif choice < 0.85:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        else:  # rename a key
            line = lines[at]
            if "=" in line:
                _, _, value = line.partition("=")
                lines[at] = f"{rng.choice(['x', 'nope', 'delay', 'high', 'HR', 'port', '1'])}" \
                            f" ={value}"
    return ("\n".join(lines) + rng.choice(["\n", "", "\r\n"])).encode("utf-8", "surrogatepass")


def odd_path(folder: Path, suffix: str, rng: random.Random) -> Path:
    """A path a user might name that is not a readable file of its kind."""
    (folder / f"adir{suffix}").mkdir(exist_ok=True)
    return rng.choice([
        folder / ("x" * 300 + suffix),                   # name too long for the file system
        folder / ("d" * 300) / f"f{suffix}",              # a folder name too long
        folder / f"a\x00b{suffix}",                       # NUL (possible from a TOML file)
        folder / f"adir{suffix}",                          # a directory
        folder / "no" / f"such{suffix}",
        Path("/dev/null"),
        folder / f"\udcff{suffix}",                       # undecodable name
    ])


# -- bookkeeping ------------------------------------------------------------------------

class RoundTimeout(BaseException):
    """A round ran past --round-limit (a BaseException: code under test catching
    ``Exception`` must not swallow it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise RoundTimeout(f"round took over {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Tally:
    """Counts of one section, and its distinct failures (printed once each)."""

    name: str
    folder: Path
    rounds: int = 0
    refused: int = 0        # a one-line error of the expected kind: correct
    failures: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    examples: dict[str, Path] = field(default_factory=dict)

    def fail(self, signature: str, detail: str, data: bytes | dict[str, bytes],
             suffix: str = ".bin") -> None:
        self.failures += 1
        self.kinds[signature] += 1
        if signature in self.examples:
            return
        keep = self.folder / f"{self.name.replace(' ', '_')}-{self.rounds}"
        if isinstance(data, dict):
            keep.mkdir(parents=True, exist_ok=True)
            for name, content in data.items():
                (keep / name).write_bytes(content)
        else:
            keep = keep.with_suffix(suffix)
            keep.write_bytes(data)
        self.examples[signature] = keep
        print(f"FAIL {self.name}: {signature}\n  reproducer: {keep}\n{detail}", flush=True)

    def report(self, what: str, extra: str = "") -> int:
        print(f"{self.name:>17}: {self.rounds:,} {what}{extra}, {self.failures} failures"
              + (f" ({len(self.kinds)} distinct)" if self.kinds else ""), flush=True)
        for signature, count in self.kinds.most_common():
            print(f"{'':>19}{count:>6} x {signature}")
        return self.failures


def signature_of(exc: BaseException) -> str:
    """Exception type and the innermost frame of the project's code that raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if str(REPO) in f.filename and "/bench/" not in f.filename]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    place = f"{Path(where.filename).name}:{where.lineno} {where.name}" if where else "?"
    return f"{type(exc).__name__} at {place}"


def one_line_naming(message: str, path: Path) -> str | None:
    """What is wrong with a ConfigError/ProfileError message, if anything."""
    if len(message.splitlines()) != 1:
        return "message spans more than one line"
    if str(path) not in message:
        return "message does not name the file"
    return None


# -- device protocols and the CSV reader ------------------------------------------------

def feed(make_host: Callable[[], HostLink], data: bytes, rng: random.Random) -> None:
    host = make_host()
    host.capture_start = 1_795_680_000.0
    now: float | None = None if rng.random() < 0.3 else 1_795_680_000.0
    position = 0
    while position < len(data):
        size = rng.choice((1, 2, 3, 7, 64, 4096))
        host.receive(data[position:position + size], now)
        host.due(now or 0.0)
        position += size
        if now is not None:
            now += rng.random()


def fuzz_protocols(seconds: float, rng: random.Random, folder: Path, limit: float) -> int:
    failures = 0
    for name, (make_host, make_device) in PROTOCOLS.items():
        tally = Tally(name, folder)
        seeds = [capture(make_host(), make_device(), 5)]
        if name in REAL_CAPTURES:
            seeds.append(REAL_CAPTURES[name].read_bytes())
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            data = mutate(rng.choice(seeds)[:20000], rng) if rng.random() < 0.9 \
                else rng.randbytes(rng.randint(0, 5000))
            tally.rounds += 1
            try:
                with time_limit(limit):
                    feed(make_host, data, rng)
            except (Exception, RoundTimeout) as exc:
                tally.fail(signature_of(exc), traceback.format_exc(), data)
        failures += tally.report("mutated streams")
    return failures


def check_times(time_ms: object) -> str | None:
    """Why an accepted recording's times cannot be written back, if they cannot."""
    import numpy as np

    times = np.asarray(time_ms, dtype=np.int64)
    if len(times) and (times.min() < MIN_MS or times.max() > MAX_MS):
        return (f"accepted times outside years 1-9999 ({int(times.min())} .. "
                f"{int(times.max())} ms); the export cannot write them back")
    return None


def fuzz_csv(seconds: float, rng: random.Random, folder: Path, limit: float) -> int:
    seed = SAMPLE_CSV.read_bytes()[:30000]
    tally = Tally("csv reader", folder)
    deadline = time.monotonic() + seconds
    path = folder / "fuzz.csv"
    while time.monotonic() < deadline:
        data = mutate(seed, rng)
        path.write_bytes(data)
        target = odd_path(folder, ".csv", rng) if rng.random() < 0.01 else path
        tally.rounds += 1
        try:
            with time_limit(limit):
                recording = read_recording(target)
        except RecordingError:
            tally.refused += 1  # a file-level error with its one-line message: correct
            continue
        except (Exception, RoundTimeout) as exc:
            tally.fail(signature_of(exc), f"path {str(target)[:80]!r}\n{traceback.format_exc()}",
                       data, ".csv")
            continue
        wrong = check_times(recording.table.time_ms)
        if wrong:
            tally.fail("csv: times out of range", wrong, data, ".csv")
    return tally.report("mutated files", f" ({tally.refused:,} refused as a whole, "
                                         "with a message)")


# -- WFDB numerics records --------------------------------------------------------------

def wfdb_seeds(folder: Path) -> list[tuple[str, bytes, bytes]]:
    """Small valid numerics records: (record name, .hea text, .dat bytes)."""
    import numpy as np
    import wfdb

    folder.mkdir(parents=True, exist_ok=True)
    n = 40
    i = np.arange(n)
    hr = (72 + i % 5).astype(float)
    spo2 = (97 - i % 3).astype(float)
    nbp = np.where(i % 10 == 0, 120.0 + i % 7, np.nan)
    records = [
        ("sec", 1, ["HR", "SpO2", "NBP Sys"], ["bpm", "%", "mmHg"], [hr, spo2, nbp], "16",
         dt.datetime(2026, 11, 26, 14, 0, 0)),
        ("minute", 1 / 60, ["PULSE", "RESP", "ABP Mean"], ["bpm", "bpm", "mmHg"],
         [hr, 14 + i % 4.0, 85 + i % 6.0], "16", None),
        ("fmt212", 0.5, ["HR", "SpO2"], ["bpm", "%"], [hr, spo2], "212",
         dt.datetime(2150, 1, 2, 3, 4, 5)),
    ]
    seeds = []
    for name, fs, sig_names, units, columns, fmt, start in records:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wfdb.wrsamp(name, fs=fs, units=units, sig_name=sig_names,
                        p_signal=np.stack(columns, 1), fmt=[fmt] * len(sig_names),
                        adc_gain=[10.0] * len(sig_names), baseline=[0] * len(sig_names),
                        base_datetime=start, write_dir=str(folder))
        seeds.append((name, (folder / f"{name}.hea").read_text(),
                      (folder / f"{name}.dat").read_bytes()))
    if SHIPPED_WFDB.exists():
        seeds.append((SHIPPED_WFDB.stem, SHIPPED_WFDB.read_text(),
                      SHIPPED_WFDB.with_suffix(".dat").read_bytes()))
    return seeds


def fuzz_wfdb(seconds: float, rng: random.Random, folder: Path, limit: float) -> int:
    seeds = wfdb_seeds(folder / "wfdb-seeds")
    tally = Tally("wfdb importer", folder)
    work = folder / "wfdb-round"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name, hea, dat = rng.choice(seeds)
        choice = rng.random()
        hea_bytes = hea.encode()
        if choice < 0.45:
            hea_bytes = mutate_text(hea, rng)
        elif choice < 0.85:
            dat = mutate(dat, rng) if rng.random() < 0.8 else dat[:rng.randrange(len(dat) + 1)]
        else:
            hea_bytes, dat = mutate_text(hea, rng), mutate(dat, rng)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        header = work / f"{name}.hea"
        header.write_bytes(hea_bytes)
        if rng.random() < 0.97:
            (work / f"{name}.dat").write_bytes(dat)
        tz = rng.choice([None, None, None, "Europe/Berlin", "America/New_York", "Nope/Zone"])
        if rng.random() < 0.01:
            header = odd_path(folder, ".hea", rng)
        tally.rounds += 1
        files = {f"{name}.hea": hea_bytes, f"{name}.dat": dat}
        try:
            with time_limit(limit), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                recording = read_file(header, tz=tz)
        except RecordingError:
            tally.refused += 1
            continue
        except (Exception, RoundTimeout) as exc:
            tally.fail(signature_of(exc), f"tz={tz} path {str(header)[:80]!r}\n"
                                          f"{traceback.format_exc()}", files)
            continue
        wrong = check_times(recording.table.time_ms)
        if wrong:
            tally.fail("wfdb: times out of range", wrong, files)
    return tally.report("mutated records", f" ({tally.refused:,} refused with a message)")


# -- raw captures -----------------------------------------------------------------------

CAPTURE_PROTOCOLS = {  # protocol, options: the PROTOCOLS entry whose bytes it decodes
    "masimo": ("masimo", {}),
    "nonin format=2": ("nonin", {"format": "2"}),
    "nonin format=7": ("nonin", {"format": "7"}),
    "nonin format=8": ("nonin", {"format": "8"}),
    "nonin ascii": ("nonin", {"format": "ascii"}),
    "intellivue": ("intellivue", {}),
    "datex interval=1": ("datex", {"interval": "1"}),
}
ODD_OPTIONS = {"format": ["2", "7", "8", "ascii", "9", "", "x", "-1"],
               "interval": ["1", "5", "10", "0", "-1", "nan", "inf", "1e999", "x", ""],
               "poll": ["1", "10", "0", "11", "nan", "inf", "x", ""],
               "tz": ["UTC", "Europe/Berlin", "Nope/Zone", "", "../../etc/passwd"],
               "set_format": ["7", "x"], "nope": ["1"]}


def index_for(data: bytes, rng: random.Random) -> bytes:
    """A .times index (offset, receipt time per line), now and then damaged."""
    lines, offset, t = [], 0, 1_795_680_000.0
    while offset < len(data):
        lines.append(f"{offset} {t:.3f}")
        offset += rng.choice((1, 17, 256, 4096))
        t += rng.random() * 2
    text = "\n".join(lines) + "\n"
    if rng.random() < 0.4:
        return mutate_text(text, rng)
    return text.encode()


def fuzz_capture(seconds: float, rng: random.Random, folder: Path, limit: float) -> int:
    seeds: dict[str, list[bytes]] = {}
    for label in CAPTURE_PROTOCOLS:
        make_host, make_device = PROTOCOLS[label]
        seeds[label] = [capture(make_host(), make_device(), 5)[:20000]]
        if label in REAL_CAPTURES:
            seeds[label].append(REAL_CAPTURES[label].read_bytes()[:20000])
    tally = Tally("raw captures", folder)
    per_protocol: Counter[str] = Counter()
    path = folder / "capture.raw"
    index = times_path(path)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        label = rng.choice(list(CAPTURE_PROTOCOLS))
        protocol, options = CAPTURE_PROTOCOLS[label]
        options = dict(options)
        data = mutate(rng.choice(seeds[label]), rng) if rng.random() < 0.9 \
            else rng.randbytes(rng.randint(0, 3000))
        if rng.random() < 0.1:
            key = rng.choice(list(ODD_OPTIONS))
            options[key] = rng.choice(ODD_OPTIONS[key])
        if rng.random() < 0.03:
            protocol = rng.choice(["sim", "csv", "nope", "", "MASIMO"])
        path.write_bytes(data)
        indexed = rng.random() < 0.5
        times = index_for(data, rng) if indexed else b""
        if indexed:
            index.write_bytes(times)
        else:
            index.unlink(missing_ok=True)
        target = odd_path(folder, ".raw", rng) if rng.random() < 0.01 else path
        tally.rounds += 1
        per_protocol[label] += 1
        files = {"capture.raw": data, "capture.raw.times": times,
                 "options.txt": f"--protocol {protocol} {options}".encode()}
        try:
            with time_limit(limit):
                result = decode_capture(target, protocol, options=options)
        except RecordingError:
            tally.refused += 1
            continue
        except (Exception, RoundTimeout) as exc:
            tally.fail(signature_of(exc),
                       f"--protocol {protocol} options={options} path {str(target)[:80]!r}\n"
                       f"{traceback.format_exc()}", files)
            continue
        bad = [r.time for r in result.readings if not math.isfinite(r.time)
               or not MIN_MS <= r.time * 1000 <= MAX_MS]
        if bad:
            tally.fail(f"{protocol}: reading times out of range",
                       f"{len(bad)} readings at times such as {bad[0]!r}", files)
    counts = ", ".join(f"{label} {n:,}" for label, n in per_protocol.items())
    return tally.report("mutated captures", f" ({tally.refused:,} refused with a message; "
                                            f"{counts})")


# -- TOML: the clinic file and alarm profiles -------------------------------------------

def fuzz_toml(kind: str, seconds: float, rng: random.Random, folder: Path,
              limit: float) -> int:
    if kind == "settings":
        seeds = [CLINIC_SEED.format(folder=folder)]
        load: Callable[[Path], object] = load_settings
        expected: type[Exception] = ConfigError
        tally = Tally("clinic TOML", folder)
    else:
        seeds = [PROFILE_SEED, SHIPPED_PROFILE.read_text(encoding="utf-8")]
        load, expected, tally = load_profile, ProfileError, Tally("profile TOML", folder)
    path = folder / f"fuzz-{kind}.toml"
    accepted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = mutate_text(rng.choice(seeds), rng)
        path.write_bytes(data)
        tally.rounds += 1
        try:
            with time_limit(limit):
                load(path)
            accepted += 1
        except expected as exc:
            wrong = one_line_naming(str(exc), path)
            if wrong:
                tally.fail(f"{type(exc).__name__}: {wrong}", f"  {str(exc)[:300]!r}", data,
                           ".toml")
            else:
                tally.refused += 1
        except (Exception, RoundTimeout) as exc:
            tally.fail(signature_of(exc), traceback.format_exc(limit=-4), data, ".toml")
    return tally.report("mutated files", f" ({accepted:,} accepted, {tally.refused:,} "
                                         f"refused with one line naming the file)")


# -- device spec strings ----------------------------------------------------------------

SPEC_OPTIONS = {
    "scenario": ["typical", "hypertensive-response", "desaturation", "bradycardia",
                 "motion-artifact", "sensor-off", "disconnect", "nope", ""],
    "seed": ["1", "0", "-1", "x", "9" * 30, "1.5", ""],
    "speed": ["1", "600", "max", "MAX", "0", "-1", "nan", "inf", "1e999", "1e-300", "x", ""],
    "start": ["2026-11-26T14:00:00+01:00", "2026-11-26T14:00:00", "0001-01-01T00:00:00Z",
              "9999-12-31T23:59:59+00:00", "x", "", "2026-13-45T99:99:99Z"],
    "elapsed": ["0", "5", "-1", "1e9", "nan", "inf", "x"],
    "pre": ["0", "10", "-1", "nan", "inf", "1e308", "x", "1e-9"],
    "infusion": ["0", "40", "-5", "nan", "inf", "1e308"],
    "post": ["0", "5", "80", "-1", "nan", "inf", "1e308"],
    "nibp_during": ["0", "10", "-1", "nan", "inf", "1e-300"],
    "nibp_after": ["0", "15", "-1", "nan", "inf"],
    "event_at": ["0", "5", "-5", "1e9", "nan", "inf", "x"],
    "format": ["2", "7", "8", "ascii", "9", "x"], "set_format": ["7", "x", ""],
    "interval": ["1", "5", "10", "0", "-1", "nan", "x"], "poll": ["1", "10", "0", "nan"],
    "tz": ["UTC", "Europe/Berlin", "Nope/Zone", "", "../../x"],
    "date_order": ["auto", "mdy", "dmy", "ymd", ""], "baud": ["9600"], "x": ["1"],
}
SPEC_PROTOCOLS = ["sim", "sim", "sim", "csv", "csv", "masimo", "nonin", "intellivue", "datex",
                  "SIM", "nope", "", "1abc", "sim ", "a_b-c"]


def random_spec(rng: random.Random, ports: list[str]) -> str:
    if rng.random() < 0.1:  # plain garbage
        alphabet = "sim:csv?&=%/.: \n\t\x00abcxyz0123456789ü"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    protocol = rng.choice(SPEC_PROTOCOLS)
    port = "" if protocol.startswith("sim") and rng.random() < 0.8 else rng.choice(ports)
    pairs = []
    for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
        key = rng.choice(list(SPEC_OPTIONS))
        value = rng.choice(SPEC_OPTIONS[key])
        if rng.random() < 0.1:
            value = value.replace("1", "%31").replace("a", "%zz")
        pairs.append(f"{key}={value}" if rng.random() < 0.95 else key)
    query = ("?" + "&".join(pairs)) if pairs or rng.random() < 0.1 else ""
    spec = f"{protocol}{'' if rng.random() < 0.03 else ':'}{port}{query}"
    if rng.random() < 0.05:
        spec = mutate(spec.encode(), rng).decode("utf-8", "replace")
    return spec


def fuzz_specs(seconds: float, rng: random.Random, folder: Path, limit: float) -> int:
    small_csv = folder / "small.csv"
    small_csv.write_text("\n".join(SAMPLE_CSV.read_text().splitlines()[:60]) + "\n")
    (folder / "empty.csv").write_text("")
    (folder / "adir").mkdir(exist_ok=True)
    ports = [str(small_csv), str(folder / "empty.csv"), str(folder / "adir"),
             str(folder / "missing.csv"), "/dev/null", "loop://", "socket://127.0.0.1:1",
             "rfc2217://127.0.0.1:1", "/dev/ttyUSB99", "COM3", "x?y", "a b", "%00", ""]
    tally = Tally("device specs", folder)
    accepted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        spec = random_spec(rng, ports)
        tally.rounds += 1
        try:
            with time_limit(limit):
                adapter = open_adapter(spec)
            accepted += 1
            release = getattr(adapter, "release", None)
            if release is not None:
                release()
        except (SpecError, RecordingError):
            tally.refused += 1
        except (Exception, RoundTimeout) as exc:
            tally.fail(signature_of(exc), f"  spec {spec!r}\n{traceback.format_exc(limit=-4)}",
                       spec.encode("utf-8", "surrogatepass"), ".spec")
    return tally.report("random specs", f" ({accepted:,} accepted, {tally.refused:,} refused "
                                        "with a message)")


# -- main -------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="per section (per protocol in 'protocols')")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--round-limit", type=float, default=10.0,
                        help="seconds one round may take before it counts as a hang")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    runs: dict[str, Callable[[], int]] = {
        "protocols": lambda: fuzz_protocols(args.seconds, rng, folder, args.round_limit),
        "csv": lambda: fuzz_csv(args.seconds, rng, folder, args.round_limit),
        "wfdb": lambda: fuzz_wfdb(args.seconds, rng, folder, args.round_limit),
        "capture": lambda: fuzz_capture(args.seconds, rng, folder, args.round_limit),
        "settings": lambda: fuzz_toml("settings", args.seconds, rng, folder, args.round_limit),
        "profile": lambda: fuzz_toml("profile", args.seconds, rng, folder, args.round_limit),
        "spec": lambda: fuzz_specs(args.seconds, rng, folder, args.round_limit),
    }
    failures = sum(runs[section]() for section in SECTIONS if section in chosen)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total failures: {failures} (reproducers, if any, in {folder}); "
          f"peak memory {peak_mb:.0f} MB")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
