"""An adult's choice to receive news by e-mail, and the signed link that stops them.

The link in every news e-mail works without logging in (as the law and usual practice want
an unsubscription to be simple): it carries the account's id signed with the application's
secret, and never expires. It stops the news e-mails only; the notices about the foyer's
demandes, deadlines and vault are sent whatever it says.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete
from sqlalchemy.orm import Session

from accounts.models import Account, Role
from coffre.clock import Clock
from messagerie.news_models import NewsOptOut

# The public page the e-mails link to (web.messagerie checks its route matches).
UNSUBSCRIBE_PATH = "/actualites/desabonnement/{token}"
_SALT = "portail-famille:actualites-desabonnement"


class InvalidUnsubscribeLink(Exception):
    """A link that is tampered with, or whose account is no family account any more."""


def unsubscribe_token(secret: str, account_id: int) -> str:
    """The token of the account's unsubscribe link."""
    return str(URLSafeSerializer(secret, salt=_SALT).dumps({"a": account_id}))


def account_of(session: Session, secret: str, token: str) -> Account:
    """The family account the link was made for (InvalidUnsubscribeLink otherwise)."""
    try:
        payload = URLSafeSerializer(secret, salt=_SALT).loads(token)
    except BadSignature as error:
        raise InvalidUnsubscribeLink() from error
    account_id = payload.get("a") if isinstance(payload, dict) else None
    account = session.get(Account, account_id) if isinstance(account_id, int) else None
    if account is None or account.role is not Role.FAMILLE:
        raise InvalidUnsubscribeLink()
    return account


def receives_news(session: Session, account_id: int) -> bool:
    """Whether news are e-mailed to the account."""
    return session.get(NewsOptOut, account_id) is None


def unsubscribe(session: Session, clock: Clock, account_id: int) -> None:
    """Stop e-mailing news to the account (again: nothing changes). Commits."""
    if receives_news(session, account_id):
        session.add(NewsOptOut(account_id=account_id, at=clock.now()))
    session.commit()


def resubscribe(session: Session, account_id: int) -> None:
    """E-mail news to the account again. Commits."""
    session.execute(delete(NewsOptOut).where(NewsOptOut.account_id == account_id))
    session.commit()
