"""From a CSV file to columns of text cells, each row with its physical line.

The first step of reading a recording (:mod:`devices.csv_format` does the
rest). It knows nothing of times, parameters or values: it finds the header,
splits rows into fields, and reports every row it cannot split (wrong number
of fields, empty line) with the file's own line number.

Two paths produce the same :class:`CsvCells`:

- Arrow's multi-threaded CSV reader, for the files this program writes and
  most others: a 24-hour recording (700,000 rows) in well under a second.
- Python's :mod:`csv` module, when a quoted field spans lines (Arrow cannot
  then say which physical line a row started on) or Arrow refuses the file.

Files that are not UTF-8 (Windows exports writing "°" as one byte) are read
as Windows-1252, with a note. A UTF-8 byte-order mark is ignored.
"""

from __future__ import annotations

import csv
import io
import mmap
import re
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 8192
_HEAD_BYTES = 1 << 20
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
# Arrow names the column whose conversion failed: "In CSV column #2: ...".
_FAILED_COLUMN = re.compile(r"CSV column #(\d+)")


class RecordingError(Exception):
    """A recording file that cannot be read at all.

    ``str()`` is one line: the file, what is wrong with it, what to do.
    """


def check_readable_file(path: Path, name: str, kind: str,
                        missing: str = "no such file; check the name and the directory") -> None:
    """Refuse, in one line, a path that cannot name a readable `kind` file.

    Catches what ``Path.is_dir`` and ``open`` raise as ValueError or OSError
    for a name no file can have (a NUL character, a name too long).
    """
    if "\x00" in str(path):
        raise RecordingError(f"{name!r}: a file name cannot hold a NUL character")
    try:
        is_dir = path.is_dir()
        exists = is_dir or path.exists()
    except OSError as exc:
        raise RecordingError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if is_dir:
        raise RecordingError(f"{name}: is a directory, not a {kind}; name a file inside it")
    if not exists:
        raise RecordingError(f"{name}: {missing}")


@dataclass
class RowProblem:
    """One row of a recording that was not imported, and why.

    Attributes
    ----------
    path : str
        The file, as the user named it.
    line : int
        1-based physical line of the file (the header is line 1).
    reason : str
        What is wrong with the row, in words a user can act on.
    kind : str
        A short category ("not a number", "bad time", ...) for counting.
    """

    path: str
    line: int
    reason: str
    kind: str = "bad row"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class CsvCells:
    """The cells of a CSV file, column by column.

    Attributes
    ----------
    path : str
    header : list of str
        Column names as written, without a byte-order mark or surrounding spaces.
    columns : list of pyarrow.Array or ChunkedArray
        One per header name: strings, dictionary-encoded strings, or a type
        asked for (see :meth:`CsvSource.cells`); null for an empty cell; only
        rows with the header's number of fields.
    lines : ndarray of int64
        Physical line of each row of `columns`.
    problems : list of RowProblem
        Rows that could not be split into the header's fields, or were empty.
    rows : int
        Data rows seen after the header, good or bad (a row whose quoted
        field spans lines counts once).
    notes : list of str
        Things the reader assumed (encoding, separator).
    decimal_comma : bool
        True when numbers may be written "36,6" (semicolon-separated files).
    """

    path: str
    header: list[str]
    columns: list[pa.Array | pa.ChunkedArray]
    lines: np.ndarray
    problems: list[RowProblem] = field(default_factory=list)
    rows: int = 0
    notes: list[str] = field(default_factory=list)
    decimal_comma: bool = False


class CsvSource:
    """A CSV file opened and checked (it exists, holds text, has a header); rows not yet split.

    Parameters
    ----------
    path : str or Path
        The file; the name appears, as given, in every message.

    Raises
    ------
    RecordingError
        No such file, a directory, unreadable, empty, or not text.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.notes: list[str] = []
        self._file = Path(path)
        self._data: bytes | None = None
        self._transcoded = False
        self._quote_spans_lines = False
        self._head = self._load_head()
        self.header, self.delimiter = self._read_header()

    def fail(self, what: str) -> RecordingError:
        return RecordingError(f"{self.path}: {what}")

    @property
    def data(self) -> bytes:
        """The whole file (UTF-8 once transcoded); read only when a slow path needs it."""
        if self._data is None:
            self._data = self._file.read_bytes()
        return self._data

    def _load_head(self) -> bytes:
        """The start of the file, checked: it exists, is a file, holds text."""
        check_readable_file(self._file, self.path, "CSV file")
        try:
            with self._file.open("rb") as stream:
                head = stream.read(_HEAD_BYTES)
                whole = len(head) < _HEAD_BYTES
        except FileNotFoundError:
            raise self.fail("no such file; check the name and the directory") from None
        except PermissionError:
            raise self.fail("cannot be read (permission denied)") from None
        except OSError as exc:
            raise self.fail(f"cannot be read ({exc.strerror or exc})") from None
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.notes.append("file is UTF-16; read as such")
            self._data = self.data.decode("utf-16").encode("utf-8")
            self._transcoded = True
            head, whole = self._data[:_HEAD_BYTES], len(self._data) <= _HEAD_BYTES
        if whole and not head.removeprefix(_BOM).strip():
            raise self.fail("file is empty; export the recording again")
        sniff = head[:_SNIFF_BYTES]
        if sniff.startswith(b"PK\x03\x04"):
            raise self.fail("not a text file (looks like an Excel workbook or a zip "
                            "archive); save it as CSV")
        if sniff.startswith(b"SQLite format 3\x00"):
            raise self.fail("not a text file (looks like an SQLite database); "
                            "give the CSV recording, or export one from the database")
        if b"\x00" in sniff:
            raise self.fail("not a text file; give a CSV recording")
        return head

    def _read_header(self) -> tuple[list[str], str]:
        body = self._head.removeprefix(_BOM)
        end = min((i for i in (body.find(b"\n"), body.find(b"\r")) if i >= 0),
                  default=len(body))
        raw = body[:end]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self._transcode()
            line = raw.decode("cp1252", errors="replace")
        if not line.strip():
            raise self.fail("the first line is empty; it must be the header "
                            "(e.g. time,param,value,unit,status,source)")
        delimiter = next((d for d in ",;\t" if d in line), ",")
        if delimiter != ",":
            name = {";": "semicolons", "\t": "tabs"}[delimiter]
            self.notes.append(f"columns are separated by {name}")
        names = next(csv.reader([line], delimiter=delimiter))
        return [n.replace("\ufeff", "").strip() for n in names], delimiter

    def _transcode(self) -> None:
        """Re-encode a Windows-1252 file as UTF-8, once."""
        if self._transcoded:
            return
        self._transcoded = True
        self.notes.append("file is not UTF-8; read as Windows-1252")
        self._data = self.data.decode("cp1252", errors="replace").encode("utf-8")

    def cells(self, dictionary: Collection[int] = (),
              typed: Mapping[int, pa.DataType] | None = None) -> CsvCells:
        """Split the rows into fields.

        Parameters
        ----------
        dictionary : collection of int
            Columns to return dictionary-encoded (few distinct values, e.g. the
            param column of a long file): cheaper to build and to validate.
        typed : mapping of int to pyarrow.DataType, optional
            Columns to try converting while splitting (time as timestamp, value
            as float64), which is cheaper than converting afterwards. A column
            with a cell that does not convert comes back as text instead, so
            the caller can say which cell; callers accept either.
        """
        types = {i: _DICTIONARY if i in dictionary else pa.string()
                 for i in range(len(self.header))}
        types.update(typed or {})
        while True:
            try:
                cells = self._arrow_cells(types)
                break
            except pa.ArrowInvalid as exc:
                failed = _FAILED_COLUMN.search(str(exc))
                column = int(failed.group(1)) if failed else None
                if column in (typed or {}) and types[column] != pa.string():
                    # One read more, not one per bad column: all converted columns as text.
                    types.update(dict.fromkeys(typed or {}, pa.string()))
                elif "UTF8" in str(exc) and not self._transcoded:
                    self._transcode()
                else:
                    return self._python_cells(dictionary)
            except pa.ArrowException:
                return self._python_cells(dictionary)
        if self._quote_spans_lines or self._spans_lines(cells.columns):
            # A quoted field spans lines, so Arrow's rows are not the file's lines.
            return self._python_cells(dictionary)
        return cells

    def _spans_lines(self, columns: list[pa.Array | pa.ChunkedArray]) -> bool:
        """Whether a cell holds a line break; dictionaries first, they are short."""
        words = [column for column in columns if pa.types.is_dictionary(column.type)]
        texts = [column for column in columns if pa.types.is_string(column.type)]
        return any(map(_holds_line_break, words)) or (
            bool(texts) and self._has_quotes() and any(map(_holds_line_break, texts)))

    def _has_quotes(self) -> bool:
        """Whether the file has a double quote at all (only a quoted field spans lines)."""
        if self._data is not None:
            return b'"' in self._data
        with self._file.open("rb") as stream, \
                mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b'"') >= 0

    def _arrow_table(self, *, threads: bool, types: Mapping[int, pa.DataType]
                     ) -> tuple[pa.Table, list[tuple[int | None, int]]]:
        bad: list[tuple[int | None, int]] = []

        def skip(row: pacsv.InvalidRow) -> str:
            # Only a line of spaces has no text at all: report it as empty, not as ragged.
            bad.append((row.number, row.actual_columns if row.text.strip() else 0))
            if "\n" in row.text or "\r" in row.text:
                self._quote_spans_lines = True
            return "skip"

        names = [f"c{i}" for i in range(len(self.header))]
        source = pa.py_buffer(self._data) if self._data is not None else str(self._file)
        # A ragged row that is not UTF-8 cannot even be handed to `skip`: Arrow
        # reports that through sys.unraisablehook (a traceback on stderr).
        # Catch it instead, and read the file as Windows-1252 like any other.
        unraisable: list[BaseException | None] = []
        previous_hook = sys.unraisablehook
        sys.unraisablehook = lambda info: unraisable.append(info.exc_value)
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1,
                                               use_threads=threads),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter,
                                                 invalid_row_handler=skip,
                                                 ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(
                    column_types={names[i]: kind for i, kind in types.items()},
                    strings_can_be_null=True, null_values=[""]),
            )
        finally:
            sys.unraisablehook = previous_hook
        if any(isinstance(exc, UnicodeDecodeError) for exc in unraisable):
            raise pa.ArrowInvalid("CSV row is not valid UTF8")
        return table, bad

    def _arrow_cells(self, types: Mapping[int, pa.DataType]) -> CsvCells:
        table, bad = self._arrow_table(threads=True, types=types)
        if any(number is None for number, _ in bad):
            # Threaded parsing cannot number skipped rows; only then pay for one thread.
            table, bad = self._arrow_table(threads=False, types=types)
        # Columns stay in Arrow's chunks: every consumer works chunk-wise or
        # concatenates once while converting, so stitching here would be a wasted pass.
        columns = list(table.columns)
        rows = table.num_rows + len(bad)
        # Arrow numbers rows from the first line of the file, header included.
        bad_lines = np.array([number for number, _ in bad], dtype=np.int64)
        lines = np.arange(2, rows + 2, dtype=np.int64)
        if len(bad_lines):
            lines = lines[~np.isin(lines, bad_lines)]
        problems = [self._ragged(int(line), actual) for line, (_, actual)
                    in zip(bad_lines.tolist(), bad, strict=True)]
        return self._drop_empty_rows(columns, lines, problems, rows)

    def _python_cells(self, dictionary: Collection[int]) -> CsvCells:
        data = self.data.removeprefix(_BOM)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._transcode()
            text = self.data.removeprefix(_BOM).decode("utf-8")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter)
        width = len(self.header)
        fields: list[list[str]] = [[] for _ in range(width)]
        lines: list[int] = []
        problems: list[RowProblem] = []
        rows = 0
        line_end = 0
        try:
            for i, row in enumerate(reader):
                start, line_end = line_end + 1, reader.line_num
                if i == 0:
                    self.header = [n.replace("\ufeff", "").strip() for n in row]
                    width = len(self.header)
                    fields = [[] for _ in range(width)]
                    continue
                rows += 1
                if not "".join(row).strip() and len(row) != width:
                    problems.append(RowProblem(self.path, start, "empty line", "empty line"))
                elif len(row) != width and line_end > start:
                    problems.append(RowProblem(self.path, start, (
                        f"a quote opened on this line is not closed until line {line_end}; "
                        f"{len(row)} fields, the header has {width}"), "unclosed quote"))
                elif len(row) != width:
                    problems.append(self._ragged(start, len(row)))
                else:
                    lines.append(start)
                    for column, value in zip(fields, row, strict=True):
                        column.append(value)
        except csv.Error as exc:
            raise self.fail(f"line {line_end + 1}: cannot split into fields ({exc}); "
                            "check the quotes on that line") from None
        columns = []
        for i, values in enumerate(fields):
            array = pa.array(values, pa.string())
            array = pc.if_else(pc.equal(array, ""), None, array)
            columns.append(array.dictionary_encode() if i in dictionary else array)
        return self._drop_empty_rows(columns, np.array(lines, dtype=np.int64), problems, rows)

    def _ragged(self, line: int, actual: int) -> RowProblem:
        if actual == 0:
            return RowProblem(self.path, line, "empty line", "empty line")
        return RowProblem(self.path, line, f"wrong number of fields: {actual}, "
                                           f"the header has {len(self.header)}",
                          "wrong number of fields")

    def _drop_empty_rows(self, columns: list[pa.Array], lines: np.ndarray,
                         problems: list[RowProblem], rows: int) -> CsvCells:
        """Report rows with no value in any field (Arrow reads a blank line that way)."""
        empty = np.zeros(len(lines), dtype=bool)
        if all(column.null_count for column in columns):
            empty = ~empty
            for column in columns:
                empty &= column.is_null().to_numpy(zero_copy_only=False)
        if empty.any():
            blank = self._blank_lines(lines[empty])
            for line, is_blank in zip(lines[empty].tolist(), blank, strict=True):
                reason = "empty line" if is_blank else "row has no values"
                problems.append(RowProblem(self.path, line, reason, "empty line"))
            keep = pa.array(~empty)
            columns = [column.filter(keep) for column in columns]
            lines = lines[~empty]
        problems.sort(key=lambda problem: problem.line)
        return CsvCells(self.path, self.header, columns, lines, problems, rows, self.notes,
                        decimal_comma=self.delimiter == ";")

    def _blank_lines(self, lines: np.ndarray) -> list[bool]:
        """Whether each of `lines` (1-based) is blank in the file itself."""
        text = self.data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        return [not text[line - 1].strip() if line - 1 < len(text) else True
                for line in lines.tolist()]


def _holds_line_break(column: pa.Array | pa.ChunkedArray) -> bool:
    """True when a text cell of `column` contains a line break (only a quoted one can)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    for chunk in chunks:
        if pa.types.is_dictionary(chunk.type):
            chunk = chunk.dictionary
        if not pa.types.is_string(chunk.type) or len(chunk) == 0:
            continue
        if pc.any(pc.match_substring_regex(chunk, "[\r\n]")).as_py():
            return True
    return False
