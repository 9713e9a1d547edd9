"""What qpdf would spend on a PDF, bounded before qpdf spends it.

qpdf (12.x) can be told how much it may decode with Flate and how deep values may nest, but
not how many values it parses, how many cross-references it reads, how far an LZW stream
expands, nor how many object streams it parses to find the length of another. It parses a
whole object stream as soon as it needs one object of it, and it needs the catalogue to open
a file. Measured with `bench/pdf_hostile.py`: each value costs it about 140 bytes, each
cross-reference about 80; a 20 MiB file of empty names took 3 GB, a 40 KB chain of object
streams whose lengths sit in the next one took 2 GB, and a longer chain overflowed its stack.

So `check_cost` first counts in the raw bytes (byte counts and a few searches, no parsing)
what qpdf could parse: every byte that may start a value counts, and the cross-reference
counts (/Size, /Index, classic tables) add up. A file with cross-reference streams (the only
files with object streams) may not use LZW, and with more than one of them may not give a
stream an indirect length. Then qpdf reads the cross-references alone, behind a catalogue of
ours so that it resolves nothing, and each object stream's dictionary is read in the raw
bytes: it must be a Flate stream whose length is written out or kept outside any object
stream; decoded, its values count in the same budget.
"""

from __future__ import annotations

import bisect
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf

MIB = 1024 * 1024
MAX_OBJECTS = 200_000  # indirect objects: a 500-page tagged report holds ~60,000
MAX_VALUES = 2_000_000  # values qpdf may parse (~280 MB at most), and values the walk may visit
MAX_XREF_ENTRIES = 2 * MAX_OBJECTS  # cross-references of all sections (incremental, linearized)
MAX_DECODED = 64 * MIB  # object streams decoded, all together
_CHUNK = MIB
_MAX_DICTIONARY = 64 * 1024  # an object stream's dictionary is a few dozen bytes
_MAX_CUTS = 8

_DELIMITERS = rb"\x00\t\n\x0c\r ()<>\[\]{}/%"
# Between tokens, whitespace only, never backtracked into (`*+`): each byte is read once per
# match, where a comment that may end anywhere made `/Size %%%...` take exponential time. A
# comment where writers put none (after a key, inside a reference) counts as the costly case.
_GAP = rb"[\x00\t\n\x0c\r ]*+"
_GAP1 = rb"[\x00\t\n\x0c\r ]++"
_END = rb"(?![^" + _DELIMITERS + rb"])"  # the token ends here
_REFERENCE = rb"\d++" + _GAP1 + rb"\d++" + _GAP1 + rb"R" + _END
_COMMENTED = rb"(?:[+\-]?\d++" + _GAP + rb"){0,2}%"  # `%`, `5 %`, `5 0 %`...


def _name(text: str) -> bytes:
    """A pattern for the name `/text` however it is written: qpdf reads `/S#69ze` as `/Size`."""
    pattern = b"/"
    for char in text:
        escaped = "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):02x}")
        pattern += f"(?:{re.escape(char)}|#{escaped})".encode()
    return pattern + _END


_SIZE = re.compile(
    _name("Size")
    + _GAP
    + rb"(?:(?P<odd>"
    + _REFERENCE
    + b"|"
    + _COMMENTED
    + rb")|(?P<count>[+\-]?\d++)(?![\d.]))"
)
_INDEX = re.compile(
    _name("Index")
    + _GAP
    + rb"(?:(?P<odd>"
    + _REFERENCE
    + b"|"
    + _COMMENTED
    + rb"|\[[\x00\t\n\x0c\r +\-\d]*+%)|\[(?P<ranges>[\x00\t\n\x0c\r +\-\d]*+)\])"
)
_XREF_STREAM = re.compile(_name("XRef"))
_LZW = re.compile(_name("LZWDecode") + b"|" + _name("LZW"))
_ENCRYPT = re.compile(_name("Encrypt"))
_INDIRECT_LENGTH = re.compile(
    _name("Length") + _GAP + rb"(?:" + _REFERENCE + b"|" + _COMMENTED + b")"
)
_TABLE_START = re.compile(rb"xref" + _END)
_TABLE_END = re.compile(rb"trailer" + _END)
_STARTXREF = re.compile(rb"startxref" + _GAP + rb"(\d+)")
_HEADER = re.compile(_GAP + rb"(\d+)" + _GAP1 + rb"(\d+)" + _GAP1 + rb"obj" + _END)
_STREAM_KEYWORD = re.compile(rb"stream" + _END)
# References in a dictionary we parse alone, where qpdf would refuse them: replaced by a marker
# (one split by a comment is not, and makes the parse fail: refused as costly).
_IN_DICTIONARY_REFERENCE = re.compile(
    rb"(?<![^" + _DELIMITERS[:-2] + rb"])(\d++)" + _GAP1 + rb"(\d++)" + _GAP1 + rb"R" + _END
)
_MARKER = pikepdf.Name("/coffre.reference")
_FLATE = frozenset({"/FlateDecode", "/Fl"})

# Byte classes for counting: digits and signs '0', letters 'a', what starts a name, array,
# string or dictionary '/', anything else a separator ' '. A number starts at a '0' after a
# separator or an opening; a letter glues to it (`a5` is one word for qpdf, not a number).
# Four classes, so that a chunk is counted in three searches (each reads every byte).
_CLASSES = bytearray(b" " * 256)
for _byte in b"0123456789+-.":
    _CLASSES[_byte] = ord("0")
for _byte in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz":
    _CLASSES[_byte] = ord("a")
for _byte in b"/[(<":
    _CLASSES[_byte] = ord("/")
_CLASS_TABLE = bytes(_CLASSES)
_NUMBER_STARTS = (b" 0", b"/0")
_KEYWORDS = (b"true", b"false", b"null")


class TooCostly(Exception):
    """The PDF would cost qpdf more than the budget of one upload."""


class Encrypted(Exception):
    """The PDF names an encryption dictionary (qpdf would decrypt its object streams to open it)."""


class Unreadable(Exception):
    """The PDF's object streams are not where qpdf would have to find them."""


@dataclass
class Budget:
    """The values qpdf may still parse for one PDF, and the object stream bytes it may decode."""

    values: int = MAX_VALUES
    decoded: int = MAX_DECODED

    def parse(self, text: bytes) -> None:
        """Count what qpdf could parse in `text`; raises TooCostly past the budget."""
        self.values -= count_values(text, limit=self.values)
        if self.values < 0:
            raise TooCostly

    def decode(self, text: bytes) -> None:
        """Count an object stream qpdf will decode, then parse."""
        self.decoded -= len(text)
        if self.decoded < 0:
            raise TooCostly
        self.parse(text)


def check_cost(data: bytes) -> None:
    """Refuse what qpdf would spend too much on, before it opens `data` to walk it.

    Raises TooCostly, Encrypted (object streams qpdf would decrypt first) or Unreadable.
    """
    budget = Budget()
    check_bytes(data, budget)
    check_object_streams(data, budget)


def count_values(text: bytes, limit: int | None = None) -> int:
    """An upper bound of the values qpdf would parse in `text` (stops counting past `limit`).

    A value starts with `/`, `[`, `(`, `<` (`<<` counts twice), a number after a separator,
    or true/false/null; a reference counts as its two numbers. Stream data counts too (about
    one value per 20 bytes of compressed data): only a cost, never a verdict.
    """
    view = memoryview(text)
    total = 0
    for start in range(0, len(view), _CHUNK):
        end = min(start + _CHUNK, len(view))
        before = view[start - 1 : start] if start else b" "
        classes = b"".join((before, view[start:end])).translate(_CLASS_TABLE)
        total += classes.count(b"/", 1)
        total += sum(classes.count(pair) for pair in _NUMBER_STARTS)  # from the byte before
        # A keyword starting in the chunk counts, even if it ends past it.
        total += sum(text.count(k, start, end + len(k) - 1) for k in _KEYWORDS)
        if limit is not None and total > limit:
            break
    return total


def check_bytes(data: bytes, budget: Budget) -> None:
    """Refuse, from the raw bytes alone, what would cost qpdf too much to open or walk.

    Raises TooCostly, or Encrypted for a file whose object streams qpdf would decrypt.
    """
    budget.parse(data)
    entries = _table_entries(data)
    for size in _SIZE.finditer(data):
        if size["odd"] is not None or abs(int(size["count"])) > MAX_OBJECTS:
            raise TooCostly  # xref streams hold as many entries as /Size says
        entries += abs(int(size["count"]))
    for index in _INDEX.finditer(data):
        if index["odd"] is not None:
            raise TooCostly  # qpdf follows /Index 9 0 R: the ranges would escape the count
        entries += sum(abs(int(count)) for count in index["ranges"].split()[1::2])
    if entries > MAX_XREF_ENTRIES:
        raise TooCostly
    xref_streams = len(_XREF_STREAM.findall(data))
    if xref_streams and _LZW.search(data):
        raise TooCostly  # qpdf decodes LZW without any bound (1 KB became 1.3 MB)
    if xref_streams > 1 and _INDIRECT_LENGTH.search(data):
        # An older cross-reference stream's length could sit in an object stream that a newer
        # one lists, and that one's length in another: qpdf would parse them all to open it.
        raise TooCostly
    if xref_streams and _ENCRYPT.search(data):
        raise Encrypted


def _table_entries(data: bytes) -> int:
    """An upper bound of the entries of the classic tables: each has an `n` or `f` keyword.

    A table runs from its `xref` keyword to the next `trailer` and holds only entries, so the
    last `xref` before each `trailer` starts one.
    """
    starts = [
        m.end()
        for m in _TABLE_START.finditer(data)
        if not data[m.start() - 1 : m.start()].isalpha()
    ]
    entries = 0
    last = 0
    for end in (m.start() for m in _TABLE_END.finditer(data)):
        before = bisect.bisect_right(starts, end)
        if before and starts[before - 1] >= last:
            start = starts[before - 1]
            entries += data.count(b"n", start, end) + data.count(b"f", start, end)
        last = end
    return entries


def check_object_streams(data: bytes, budget: Budget) -> None:
    """Check and count every object stream before qpdf parses one of them.

    qpdf parses an object stream whole to resolve any object in it; to open the file it
    resolves the catalogue, often compressed, and a stream's indirect length, which may sit in
    another object stream. So qpdf first reads the cross-references of `data` followed by a
    section of ours whose catalogue is written out: it resolves nothing. Raises TooCostly,
    or Unreadable for object streams qpdf could not read.
    """
    if not _XREF_STREAM.search(data):
        return  # classic tables list no compressed object
    with pikepdf.open(io.BytesIO(data + _our_catalogue(data)), attempt_recovery=False) as pdf:
        table = _Table.of(pdf)
        filtered = [n for n in table.streams if _check_dictionary(data, table, n)]
        for number in filtered:  # now qpdf may resolve them: none needs a compressed object
            stream = pdf.get_object((number, 0))
            if not isinstance(stream, pikepdf.Stream):
                raise Unreadable
            budget.decode(stream.read_bytes())


@dataclass(frozen=True)
class _Table:
    """Where qpdf would find each object: raw at an offset, or compressed in an object stream."""

    offsets: dict[tuple[int, int], int]
    compressed: frozenset[tuple[int, int]]
    streams: tuple[int, ...]  # the object streams compressed objects sit in

    @classmethod
    def of(cls, pdf: pikepdf.Pdf) -> _Table:
        offsets: dict[tuple[int, int], int] = {}
        compressed: set[tuple[int, int]] = set()
        streams: set[int] = set()
        for objgen, entry in pdf.get_xref_table().items():
            if entry.type == 1 and entry.offset is not None:
                offsets[objgen] = entry.offset
            elif entry.type == 2 and entry.obj_stream_number is not None:
                compressed.add(objgen)
                streams.add(entry.obj_stream_number)
        return cls(offsets, frozenset(compressed), tuple(sorted(streams)))


def _our_catalogue(data: bytes) -> bytes:
    """A last section whose trailer holds its own catalogue and goes on with `data`'s sections."""
    found = list(_STARTXREF.finditer(data, max(len(data) - 2048, 0)))
    if not found:
        raise Unreadable  # qpdf would not find the cross-references either
    table = len(data) + 1
    return (
        b"\nxref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1 /Prev %d /Root << /Type /Catalog"
        b" /Pages << /Type /Pages /Kids [] /Count 0 >> >> >>\nstartxref\n%d\n%%%%EOF\n"
        % (int(found[-1][1]), table)
    )


def _check_dictionary(data: bytes, table: _Table, number: int) -> bool:
    """The object stream `number` is a raw Flate stream whose decoding needs no other one.

    Returns whether it is compressed: if not, its values were counted with the raw bytes.
    """
    offset = table.offsets.get((number, 0))
    if offset is None:
        raise Unreadable  # qpdf reads object streams at an offset, never inside another one
    dictionary = _raw_dictionary(data, offset, number)
    for key, value in dictionary.items():
        if key == "/Length":
            if _is_reference(value) and (int(value[1]), int(value[2])) in table.compressed:
                raise TooCostly  # its length sits in an object stream: a chain
            if not _is_reference(value) and not isinstance(value, int):
                raise Unreadable
        elif key != "/Extends" and _has_reference(value):
            raise TooCostly  # qpdf would resolve /Filter, /N... before we could count them
    filters = dictionary.get("/Filter", pikepdf.Array())
    names = filters if isinstance(filters, pikepdf.Array) else [filters]
    if any(str(name) not in _FLATE for name in names):
        raise TooCostly  # Flate is bounded (DECODE_LIMIT); LZW is not
    count = dictionary.get("/N")
    if not isinstance(count, int) or count > MAX_OBJECTS:
        raise TooCostly
    return len(names) > 0


def _raw_dictionary(data: bytes, offset: int, number: int) -> pikepdf.Dictionary:
    """The dictionary of the stream object at `offset`, as qpdf's parser reads it."""
    header = _HEADER.match(data, offset)
    if header is None or int(header[1]) != number or int(header[2]) != 0:
        raise Unreadable
    start = header.end()
    for cut in _cuts(data, start):
        text = _IN_DICTIONARY_REFERENCE.sub(rb"[/coffre.reference \1 \2]", data[start:cut])
        try:
            parsed = pikepdf.Object.parse(text)
        except (pikepdf.PdfError, RuntimeError):
            continue  # the cut fell inside the dictionary (a string holding "stream"...)
        if isinstance(parsed, pikepdf.Dictionary):
            return parsed
    raise TooCostly  # a dictionary we cannot delimit cheaply is not one a writer makes


def _cuts(data: bytes, start: int) -> Iterator[int]:
    """Where the dictionary may end: before each of the first `stream` keywords after `start`."""
    window = data[start : start + _MAX_DICTIONARY]
    for tried, keyword in enumerate(_STREAM_KEYWORD.finditer(window)):
        if tried == _MAX_CUTS:
            return
        yield start + keyword.start()


def _is_reference(value: object) -> bool:
    return isinstance(value, pikepdf.Array) and len(value) == 3 and value[0] == _MARKER


def _has_reference(value: object) -> bool:
    if _is_reference(value):
        return True
    if isinstance(value, pikepdf.Array):
        return any(_has_reference(item) for item in value)
    if isinstance(value, pikepdf.Dictionary):
        return any(_has_reference(item) for item in value.values())
    return False
