"""Whether a PDF may enter the vault: parsed by qpdf (through pikepdf), never scanned as bytes.

A PDF is refused when qpdf cannot read it as it is (a file qpdf would have to repair is
read differently by each viewer, which is how content hides), when it is encrypted, or
when anything it holds can run or fetch something: scripts, launches, form submissions,
remote or embedded files, multimedia, XFA forms, and any automatic action other than
going to a page. Hyperlinks a reader clicks (URI actions of links) are accepted: the
tax notices and certificates families receive carry them, and they run nothing.

The walk follows every reference from the trailer, once each (a visited set breaks
loops), and gives up past a budget of objects and of values, so a file costs bounded time.
"""

from __future__ import annotations

import enum
import io
from functools import cache
from typing import TypeGuard

import pikepdf
from pikepdf import ObjectType
from pikepdf.settings import set_qpdf_limits

MIB = 1024 * 1024
MAX_OBJECTS = 200_000  # indirect objects walked: a 500-page tagged report holds ~60,000
MAX_VALUES = 2_000_000  # values walked (dictionary entries and array items)
DECODE_LIMIT = 8 * MIB  # the most qpdf decodes from one stream (cross-references, objects)

_CONTAINERS = frozenset({ObjectType.dictionary, ObjectType.array, ObjectType.stream})
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
        with pikepdf.open(content, attempt_recovery=False, inherit_page_attributes=False) as pdf:
            if pdf.is_encrypted:  # with an empty user password, it opens all the same
                return PdfProblem.ENCRYPTED
            _Walk().run(pdf.trailer)
            # qpdf warns where it guessed (an object not where the table says...): another
            # reader guesses otherwise, and may find what this walk did not see.
            if pdf.get_warnings():
                return PdfProblem.UNREADABLE
    except pikepdf.PasswordError:
        return PdfProblem.ENCRYPTED
    except _Refused as refused:
        return refused.problem
    except (pikepdf.PdfError, RuntimeError):  # qpdf could not read it, or hit one of its limits
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
    """

    def __init__(self) -> None:
        self._seen: set[tuple[int, int]] = set()
        self._values = 0
        self._stack: list[pikepdf.Object] = []

    def run(self, trailer: pikepdf.Object) -> None:
        self._push(trailer)
        while self._stack:
            node = self._stack.pop()
            if node._type_code == ObjectType.array:
                for item in node.as_list():
                    self._push(item)
            else:
                entries = node.stream_dict if node._type_code == ObjectType.stream else node
                for key, value in entries.items():
                    self._check_entry(key, value)
                    self._push(value)

    def _count(self) -> None:
        self._values += 1
        if self._values > MAX_VALUES:
            raise _Refused(PdfProblem.TOO_COMPLEX)

    def _push(self, value: object) -> None:
        self._count()
        if not isinstance(value, pikepdf.Object) or value._type_code not in _CONTAINERS:
            return
        if value.is_indirect:
            if value.objgen in self._seen:
                return
            self._seen.add(value.objgen)
            if len(self._seen) > MAX_OBJECTS:
                raise _Refused(PdfProblem.TOO_COMPLEX)
        self._stack.append(value)

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


def _harmless_address(action: pikepdf.Object, kind: str) -> bool:
    """A web or mail address, for a URI action: not a script, a file or a share to reach."""
    if kind != "/URI":
        return True
    address = action.get("/URI")
    if not _is(address, ObjectType.string):
        return False
    return bytes(address).strip().lower().startswith(_LINK_SCHEMES)
