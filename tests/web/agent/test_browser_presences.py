"""Attendance on a tablet whose connection drops: the tap waits on the device, then is sent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accounts.credentials import find_account
from coffre.models import FoyerMember
from reservations import bookings
from reservations.bookings import Booker, Context
from reservations.errors import BookingRefused
from reservations.models import Activity, ActivitySession, AttendanceMark, Channel
from tests.web.agents import sign_in_agent_in_browser
from tests.web.browser import Portal, axe_context, page_problems, serve_portal
from web.runtime import runtime

AGENT = "agent.ecoles@bellerive.example"


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    with serve_portal(tmp_path / "var") as served:
        yield served


def book_hugo(portal: Portal) -> int:
    """Hugo Martin booked on the first canteen day still open to changes; its session."""
    rt = runtime(portal.app)
    ctx = Context(clock=rt.clock, calendar=rt.engine_context.calendar)
    with rt.sessions() as session:
        hugo = session.scalars(select(FoyerMember).where(FoyerMember.first_name == "Hugo")).one()
        days = session.scalars(
            select(ActivitySession.id)
            .join(Activity)
            .where(Activity.code == "cantine-lilas")
            .order_by(ActivitySession.day)
        ).all()
        booker = Booker(None, Channel.FAMILLE, hugo.foyer_id)
        for day in days:
            try:
                return bookings.book(session, ctx, booker, hugo.id, day).session_id
            except BookingRefused:
                continue
    raise AssertionError("no canteen day open to bookings")


def marks(portal: Portal, session_id: int) -> list[bool]:
    """The marks of the session (the demo's last month was marked already)."""
    with runtime(portal.app).sessions() as session:
        return list(
            session.scalars(
                select(AttendanceMark.present).where(AttendanceMark.session_id == session_id)
            )
        )


@pytest.mark.browser
def test_a_tap_made_offline_is_sent_when_the_tablet_is_back_online(
    portal: Portal, browser: Any
) -> None:
    session_id = book_hugo(portal)
    with runtime(portal.app).sessions() as session:
        assert find_account(session, AGENT) is not None
    context = axe_context(browser, width=768)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in_agent_in_browser(page, portal.url, portal.app, AGENT)
    page.goto(f"{portal.url}/agent/presences/{session_id}")
    assert page_problems(page, "agent-presences-feuille", widths=(768,)) == []

    context.set_offline(True)
    page.get_by_role("button", name="Présent Hugo Martin").click()
    waiting = page.locator("[data-attente]").first  # Hugo is the only child booked
    assert waiting.is_visible() and waiting.text_content() == "En attente d'envoi"
    assert marks(portal, session_id) == []

    context.set_offline(False)
    deadline = time.monotonic() + 15
    while not marks(portal, session_id) and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # the browser sends the waiting tap on its "online" event
    assert marks(portal, session_id) == [True]
    # The mark is saved before the browser reads the answer and empties its queue: wait for
    # that too, or the reload could cut it off.
    page.wait_for_function("localStorage.getItem('portail-pointages') === '[]'")
    page.reload()
    assert page.locator("[data-etat]").first.text_content() == "Présent"
    assert not waiting.is_visible()
    assert page.evaluate("localStorage.getItem('portail-pointages')") == "[]"
    context.close()
