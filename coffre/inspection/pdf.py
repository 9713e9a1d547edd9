"""Whether a PDF may enter the vault: parsed by qpdf (through pikepdf), never scanned as bytes.

A PDF is refused when qpdf cannot read it as it is (a file qpdf would have to repair is
read differently by each viewer, which is how content hides), when it is encrypted, or
when anything it holds can run or fetch something: scripts, launches, form submissions,
remote or embedded files, multimedia, XFA forms, and any automatic action other than
going to a page. Hyperlinks a reader clicks (URI actions of links) are accepted: the
tax notices and certificates families receive carry them, and they run nothing.

The walk follows every reference from the trailer, once each (a visited set breaks
loops), and gives up past a budget of objects and of values. What qpdf itself parses and
decodes to open the file and resolve what the walk asks for is bounded before qpdf reads a
byte (`coffre.inspection.pdf_cost`, which counts the raw bytes: a cost, never a verdict on
content), so a file costs bounded time and memory.
"""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator
from functools import cache
from itertools import repeat
from typing import Any, TypeGuard

import pikepdf
from pikepdf import ObjectType
from pikepdf.settings import set_qpdf_limits

from coffre.inspection.pdf_cost import (
    MAX_OBJECTS,
    MAX_VALUES,
    MIB,
    Encrypted,
    TooCostly,
    Unreadable,
    check_cost,
)

DECODE_LIMIT = 8 * MIB  # the most qpdf decodes from one stream (cross-references, objects)

_WARNINGS_EVERY = 4096  # values walked between two looks at qpdf's warnings
_SLICE = 256  # array items held at a time, per level of nesting (qpdf allows 499 levels)
# A tuple: `in` compares by identity, where a set would hash each enum member in Python.
_CONTAINERS = (ObjectType.dictionary, ObjectType.array, ObjectType.stream)
# Keys that only ever hold scripts, embedded files or XFA forms, wherever they appear.
_ACTIVE_KEYS = frozenset(
    {"/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/XFA", "/RichMediaContent"}
)
# Action types (/S) refused wherever they appear, clicked or not.
_ACTIVE_ACTIONS = frozenset(
    {
        "/JavaScript",
        "/Launch",
        "/SubmitForm",
        "/ImportData",
        "/GoToR",
        "/GoToE",
        "/GoTo3DView",
        "/RichMediaExecute",
        "/Rendition",
    }
)
# Annotation types (/Subtype) that play media, run 3D scripts or carry a file.
_ACTIVE_ANNOTATIONS = frozenset(
    {"/RichMedia", "/Screen", "/Movie", "/Sound", "/FileAttachment", "/3D"}
)
# What a reader's click may do (/A of links, widgets and outline items): stay in the document
# or open a web address in a browser.
_CLICKED_ACTIONS = frozenset(
    {"/GoTo", "/GoToDp", "/URI", "/Named", "/Hide", "/ResetForm", "/SetOCGState", "/Trans"}
)
# What may happen without a click (/OpenAction, /AA): only going to a page.
_AUTOMATIC_ACTIONS = frozenset({"/GoTo"})
# The addresses a clicked link may open: a web page or a new e-mail, never a script
# (javascript:), a file or a network share (file:, \\server, which leak the agent's login).
_LINK_SCHEMES = (b"https://", b"http://", b"mailto:")


class PdfProblem(enum.Enum):
    """Why a PDF is refused; the value is the refusal code of the upload."""

    UNREADABLE = "pdf_unreadable"
    ENCRYPTED = "pdf_encrypted"
    ACTIVE_CONTENT = "pdf_javascript"
    TOO_COMPLEX = "pdf_too_complex"


class _Refused(Exception):
    def __init__(self, problem: PdfProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def pdf_problem(content: io.BytesIO) -> PdfProblem | None:
    """What makes this PDF unfit for the vault, or None if it may be stored."""
    _limit_qpdf()
    try:
        check_cost(content.getvalue())  # before qpdf reads a byte
        with pikepdf.open(content, attempt_recovery=False, inherit_page_attributes=False) as pdf:
            if pdf.is_encrypted:  # with an empty user password, it opens all the same
                return PdfProblem.ENCRYPTED
            _Walk(pdf).run(pdf.trailer)
            # qpdf warns where it guessed (an object not where the table says...): another
            # reader guesses otherwise, and may find what this walk did not see.
            if pdf.get_warnings():
                return PdfProblem.UNREADABLE
    except (pikepdf.PasswordError, Encrypted):
        return PdfProblem.ENCRYPTED
    except _Refused as refused:
        return refused.problem
    except TooCostly:
        return PdfProblem.TOO_COMPLEX
    except (pikepdf.PdfError, RuntimeError, Unreadable):  # qpdf could not read it, or hit a limit
        return PdfProblem.UNREADABLE
    return None


@cache
def _limit_qpdf() -> None:
    """Bound what qpdf decodes from one stream (process-wide, set once before the first PDF)."""
    set_qpdf_limits(
        flate_max_memory=DECODE_LIMIT,
        run_length_max_memory=DECODE_LIMIT,
        png_max_memory=DECODE_LIMIT,
        tiff_max_memory=DECODE_LIMIT,
        dct_max_memory=DECODE_LIMIT,
    )


def _name(value: object) -> str | None:
    """The name, if `value` is one; a name that is not UTF-8 is none of those this module knows."""
    if not _is(value, ObjectType.name_):
        return None
    try:
        return str(value)
    except UnicodeDecodeError:
        return None


def _is(value: object, kind: ObjectType) -> TypeGuard[pikepdf.Object]:
    return isinstance(value, pikepdf.Object) and value._type_code == kind


class _Walk:
    """Every object reachable from the trailer, each indirect one once, within a budget.

    Actions are checked where they are triggered (an action chain shared by many links is
    checked from each); every value looked at, walked or checked, counts in the budget.
    qpdf's warnings are looked at on the way: it keeps every one (7 for an object it cannot
    parse, 770 MB for 150,000 such objects), and one is enough to refuse the file.
    """

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self._pdf = pdf
        self._seen: set[tuple[int, int]] = set()
        self._values = 0
        self._pending: list[pikepdf.Object] = []  # indirect containers, each once

    def run(self, trailer: pikepdf.Object) -> None:
        first = self._admit(trailer)
        if first is not None:
            self._walk(first)
        while self._pending:
            self._walk(self._pending.pop())

    def _walk(self, node: pikepdf.Object) -> None:
        """The values in `node`, one at a time, its direct containers depth first.

        Direct containers nest at most as deep as qpdf parses (499): the walk holds at most a
        slice of an array per level, never a whole one (2 M empty arrays made it hold 270 MB
        of wrappers).
        """
        levels = [_entries(node)]
        while levels:
            for key, value in levels[-1]:
                if key is not None:
                    self._check_entry(key, value)
                inside = self._admit(value)
                if inside is not None:
                    levels.append(_entries(inside))
                    break  # into `inside`; this level goes on where it stopped
            else:
                levels.pop()

    def _count(self) -> None:
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(PdfProblem.TOO_COMPLEX)
        if self._values % _WARNINGS_EVERY == 0 and self._pdf.get_warnings():
            raise _Refused(PdfProblem.UNREADABLE)

    def _admit(self, value: object) -> pikepdf.Object | None:
        """Count `value`; a direct container to walk now, an indirect one is kept for later."""
        self._count()
        if not isinstance(value, pikepdf.Object) or value._type_code not in _CONTAINERS:
            return None
        if not value.is_indirect:
            return value
        if value.objgen not in self._seen:
            self._seen.add(value.objgen)
            if len(self._seen) > MAX_OBJECTS:
                raise _Refused(PdfProblem.TOO_COMPLEX)
            self._pending.append(value)
        return None

    def _check_entry(self, key: str, value: object) -> None:
        """Refuse an entry that is active content by itself, or the start of a refused action."""
        if key in _ACTIVE_KEYS:
            raise _Refused(PdfProblem.ACTIVE_CONTENT)
        name = _name(value)
        if (
            (key == "/S" and name in _ACTIVE_ACTIONS)
            or (key == "/Subtype" and name in _ACTIVE_ANNOTATIONS)
            or (key == "/Type" and name == "/EmbeddedFile")
        ):
            raise _Refused(PdfProblem.ACTIVE_CONTENT)
        if key in ("/A", "/PA"):
            self._check_actions(value, _CLICKED_ACTIONS)
        elif key == "/OpenAction":  # an array here is a destination: the page shown first
            self._check_actions(value, _AUTOMATIC_ACTIONS)
        elif key == "/AA" and _is(value, ObjectType.dictionary):
            for action in value.as_dict().values():
                self._check_actions(action, _AUTOMATIC_ACTIONS)

    def _check_actions(self, first: object, allowed: frozenset[str]) -> None:
        """Refuse an action, or one chained after it by /Next, whose type is not `allowed`.

        Actions chained after another run on the same trigger as the first one, so a page's
        automatic action cannot hide a web address behind a harmless first step.
        """
        chain = [first]
        seen: set[tuple[int, int]] = set()
        while chain:
            action = chain.pop()
            self._count()
            if not _is(action, ObjectType.dictionary):
                continue  # not an action (a destination, or an /A that is something else)
            if action.is_indirect:
                if action.objgen in seen:
                    continue
                seen.add(action.objgen)
            kind = _name(action.get("/S"))
            if kind is None or kind not in allowed or not _harmless_address(action, kind):
                raise _Refused(PdfProblem.ACTIVE_CONTENT)
            after = action.get("/Next")
            if _is(after, ObjectType.array):
                chain.extend(after.as_list())
            elif after is not None:
                chain.append(after)


def _entries(node: pikepdf.Object) -> Iterator[tuple[str | None, Any]]:
    """The items of an array, or the entries of a dictionary or a stream's, one at a time."""
    if node._type_code == ObjectType.array:
        if len(node) <= _SLICE:
            return zip(repeat(None), node.as_list(), strict=False)
        return _slices(node)
    entries = node.stream_dict if node._type_code == ObjectType.stream else node
    return iter(entries.items())


def _slices(array: pikepdf.Object) -> Iterator[tuple[None, Any]]:
    """A long array's items a slice at a time (as one list, every item is a wrapper at once)."""
    for start in range(0, len(array), _SLICE):
        for item in array[start : start + _SLICE]:
            yield None, item


def _harmless_address(action: pikepdf.Object, kind: str) -> bool:
    """A web or mail address, for a URI action: not a script, a file or a share to reach."""
    if kind != "/URI":
        return True
    address = action.get("/URI")
    if not _is(address, ObjectType.string):
        return False
    return bytes(address).strip().lower().startswith(_LINK_SCHEMES)
