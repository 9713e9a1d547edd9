"""Who is logged in, and the guard every protected view uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from typing import ParamSpec, TypeVar

from flask import Response, abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from sqlalchemy import Select, bindparam, select
from werkzeug.wrappers import Response as BaseResponse

from accounts import information
from accounts.models import Account, AgentService, Role
from web.counter import acting_for_family
from web.extensions import login_manager
from web.runtime import db

P = ParamSpec("P")


R = TypeVar("R")


HOME_BY_ROLE = {Role.FAMILLE: "famille.index", Role.AGENT: "agent.inbox", Role.ADMIN: "admin.index"}
# What a family that has not accepted the information in force may still open: the page to
# accept it, and, if it would rather not, getting its documents back and closing its space.
BEFORE_INFORMATION = frozenset(
    {
        "famille.information",
        "famille.export",
        "famille.preparer_export",
        "famille.export_prepare",
        "famille.supprimer_compte",
    }
)


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in account as views see it (no ORM object outlives its request).

    Read once per request by the user loader, with an agent's services: nothing is kept
    across requests, so a deactivated account or a changed service is seen at once.
    """

    id: int
    role: Role
    display_name: str
    foyer_id: int | None
    session_version: int
    service_ids: frozenset[int] = frozenset()
    supervised_service_ids: frozenset[int] = frozenset()
    information_version: str | None = None
    is_active: bool = True
    is_authenticated: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        # What the session (and a remember cookie) keeps: the version makes it revocable.
        return f"{self.id}:{self.session_version}"


def _as_user(account: Account) -> CurrentUser:
    memberships = account.memberships
    return CurrentUser(
        account.id,
        account.role,
        account.display_name,
        account.foyer_id,
        account.session_version,
        frozenset(m.service_id for m in memberships),
        frozenset(m.service_id for m in memberships if m.is_supervisor),
        account.information_version,
    )


@cache
def _account_query() -> Select[Role, str, int | None, bool, int, str | None, int, bool]:
    """The account and its services, one row per service (one row with none), in one query.

    Built once: it is the same for every request, and SQLAlchemy caches a statement's SQL,
    not the Python work of building it again.
    """
    return (
        select(
            Account.role,
            Account.display_name,
            Account.foyer_id,
            Account.is_active,
            Account.session_version,
            Account.information_version,
            AgentService.service_id,
            AgentService.is_supervisor,
        )
        .outerjoin(AgentService, AgentService.account_id == Account.id)
        .where(Account.id == bindparam("account_id"))
    )


@login_manager.user_loader
def _load_user(user_id: str) -> CurrentUser | None:
    # A session opened under an older version was ended (logout, new password, second
    # factor reset, deactivation: accounts.credentials.end_sessions), whatever its cookie says.
    account_id, separator, version = user_id.partition(":")
    if not (account_id.isdigit() and separator and version.isdigit()):
        return None
    rows = db().execute(_account_query(), {"account_id": int(account_id)}).all()
    if not rows or not rows[0].is_active or rows[0].session_version != int(version):
        return None
    account = rows[0]
    return CurrentUser(
        int(account_id),
        account.role,
        account.display_name,
        account.foyer_id,
        account.session_version,
        frozenset(row.service_id for row in rows if row.service_id is not None),
        frozenset(row.service_id for row in rows if row.is_supervisor),
        account.information_version,
    )


def reissue_session(account: Account) -> None:
    """Keep this device logged in under the account's new session version."""
    login_user(_as_user(account))


def role_required(
    *roles: Role,
) -> Callable[[Callable[P, R]], Callable[P, R | BaseResponse]]:
    """Let through only logged-in accounts of these roles; others get login or 403."""

    def decorator(view: Callable[P, R]) -> Callable[P, R | BaseResponse]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R | BaseResponse:
            if not current_user.is_authenticated:
                unauthorized: Response = login_manager.unauthorized()
                return unauthorized
            # An agent in counter mode passes where the family would (web.agent.guichet).
            counter_mode = Role.FAMILLE in roles and acting_for_family()
            if current_user.role not in roles and not counter_mode:
                abort(403)
            if _must_read_information() and request.endpoint not in BEFORE_INFORMATION:
                return redirect(url_for("famille.information"))
            # A family account in no foyer waits for its foyer's adults to accept it
            # (accounts.joining): it sees its waiting page and nothing else.
            waiting = current_user.role is Role.FAMILLE and current_user.foyer_id is None
            if waiting and request.endpoint not in ("famille.index", "famille.information"):
                abort(403)
            return view(*args, **kwargs)

        return guarded

    return decorator


def _must_read_information() -> bool:
    """A family adult who accepted no version, or an older one, reads the one in force first.

    That is every account created without the sign-up page: FranceConnect, a family code,
    an invitation.
    """
    return information.must_accept(db(), current_user.role, current_user.information_version)


login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please sign in to access this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"
