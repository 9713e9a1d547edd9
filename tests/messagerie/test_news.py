"""Targeted news: who the criteria reach, the e-mails queued a batch at a time through the
outbox and sent to a real SMTP server, the unsubscribe that stops news only, isolation."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from accounts import family as family_notices
from accounts.models import Account
from coffre.models import Foyer
from coffre.vault import Vault
from messagerie import news, news_subscription
from messagerie.audience import Criteria, InvalidCriteria
from messagerie.news_models import News, NewsOptOut
from notifications import outbox
from notifications.models import OutboxMessage
from notifications.outbox import MailSettings
from procedures.history import EngineContext
from reservations import activities
from tests.coffre.conftest import deposit
from tests.factories import make_agent, make_service, make_supervisor
from tests.fixtures import Mailbox
from tests.messagerie.news_town import SCHOOL_A, SCHOOL_B, Town, make_town
from tests.reservations.test_bookings import make_activity
from worker.jobs import register_standard_jobs
from worker.loop import Worker

LINKS = news.Links(base_url="https://portail.bellerive.example", secret_key="s" * 40)


@pytest.fixture
def town(db_session: Session, ctx: EngineContext, vault: Vault) -> Town:
    return make_town(db_session, ctx, vault)


def author(town: Town) -> news.Author:
    return news.Author(town.supervisor.id, frozenset({town.service.id}))


def send(town: Town, criteria: Criteria, title: str = "Sortie au musée") -> News:
    draft = news.Draft(town.service.id, title, "Rendez-vous à 9 h\ndevant l'école.", criteria)
    return news.publish(town.session, town.clock, author(town), draft)


def foyers_of(town: Town, item: News) -> set[int]:
    return {recipient.foyer_id for recipient in item.recipients}


def test_the_preview_counts_the_foyers_with_a_child_in_the_school_at_the_level(
    town: Town,
) -> None:
    in_a_cp = [town.pupil(SCHOOL_A, "CP") for _ in range(3)]
    town.pupil(SCHOOL_A, "CE1")
    town.pupil(SCHOOL_A)  # no registration: no known level
    in_b_cp = [town.pupil(SCHOOL_B, "CP") for _ in range(2)]
    town.family()  # no child at all

    def reached(**criteria: str) -> int:
        return news.preview(town.session, town.clock, Criteria(**criteria)).foyers  # type: ignore[arg-type]

    assert reached(school=SCHOOL_A, level="CP") == 3
    assert reached(school=SCHOOL_B) == 2
    assert reached(school=SCHOOL_A) == 5
    assert reached(level="CP") == 5
    assert reached() == 8  # every foyer
    sent = send(town, Criteria(school=SCHOOL_A, level="CP"))
    assert foyers_of(town, sent) == {account.foyer_id for account in in_a_cp}
    assert sent.foyers_count == 3
    assert sent.audience == "Enfants scolarisés à « École des Acacias » en CP (cours préparatoire)"
    assert not foyers_of(town, sent) & {account.foyer_id for account in in_b_cp}


def test_activity_site_and_expiring_documents_choose_their_foyers(town: Town) -> None:
    canteen = make_activity(town.session, town.service)
    enrolled, elsewhere, expiring, nothing = (town.pupil(SCHOOL_A) for _ in range(4))
    for account, activity in ((enrolled, canteen),):
        child = town.session.get_one(Foyer, account.foyer_id).members[-1]
        activities.enrol(
            town.session, town.clock, activity.id, child.id, date(2026, 9, 1), date(2027, 7, 3)
        )
    ended = town.session.get_one(Foyer, elsewhere.foyer_id).members[-1]
    # Enrolled last year only: not a child of the canteen today.
    activities.enrol(
        town.session, town.clock, canteen.id, ended.id, date(2025, 9, 1), date(2026, 7, 3)
    )
    foyer = town.session.get_one(Foyer, expiring.foyer_id)
    # Valid three months from 15 June: until 15 September, this month (the clock: 1 September).
    deposit(town.vault, town.session, foyer, issued_on=date(2026, 6, 15))
    later = town.session.get_one(Foyer, nothing.foyer_id)
    deposit(town.vault, town.session, later, issued_on=date(2026, 8, 20))  # until November

    def chosen(criteria: Criteria) -> set[int]:
        return foyers_of(town, send(town, criteria))

    assert chosen(Criteria(activity_id=canteen.id)) == {enrolled.foyer_id}
    assert chosen(Criteria(site=canteen.site)) == {enrolled.foyer_id}
    assert chosen(Criteria(expiring_documents=True)) == {expiring.foyer_id}
    with pytest.raises(news.NewsRefused, match="Aucune famille"):
        send(town, Criteria(activity_id=canteen.id, expiring_documents=True))
    with pytest.raises(InvalidCriteria):
        news.preview(town.session, town.clock, Criteria(school="École inconnue"))


def test_e_mails_are_queued_in_batches_to_the_adults_who_did_not_opt_out(
    town: Town, mail: MailSettings, mailbox: Mailbox
) -> None:
    first = town.pupil(SCHOOL_A, None, "second.adulte@test.example")
    second, third = town.pupil(SCHOOL_A), town.pupil(SCHOOL_A)
    town.pupil(SCHOOL_B)
    news_subscription.unsubscribe(town.session, town.clock, second.id)
    reach = news.preview(town.session, town.clock, Criteria(school=SCHOOL_A))
    assert (reach.foyers, reach.emails) == (3, 3)  # 4 adults, one opted out
    sent = send(town, Criteria(school=SCHOOL_A), title="Fermeture <exceptionnelle>")

    assert news.mail_pending(town.session, town.clock, LINKS, batch=2) == 2
    town.session.refresh(sent)
    assert sent.mailed_at is None
    assert news.mail_pending(town.session, town.clock, LINKS, batch=2) == 1
    town.session.refresh(sent)
    assert sent.mailed_at == town.clock.now()
    assert news.mail_pending(town.session, town.clock, LINKS, batch=2) == 0

    assert outbox.send_due(town.session, town.clock, mail) == 3
    to = sorted(message["To"] for message in mailbox.messages)
    assert to == sorted([first.email, "second.adulte@test.example", third.email])
    (message,) = mailbox.to(third.email)
    assert message["Subject"] == f"{town.service.name} : Fermeture <exceptionnelle>"
    body = message.get_content().replace("\r\n", "\n")
    assert "Rendez-vous à 9 h\ndevant l'école." in body
    assert f"https://portail.bellerive.example/famille/actualites/{sent.id}" in body
    link = re.search(r"https://portail\.bellerive\.example/actualites/desabonnement/(\S+)", body)
    assert link is not None
    account = news_subscription.account_of(town.session, LINKS.secret_key, link.group(1))
    assert account.id == third.id


def test_the_unsubscribe_stops_news_never_the_notices_the_family_must_get(town: Town) -> None:
    pupil = town.pupil(SCHOOL_A)
    foyer = town.session.get_one(Foyer, pupil.foyer_id)
    deposit(town.vault, town.session, foyer, issued_on=date(2026, 6, 15))  # expires this month
    token = news_subscription.unsubscribe_token(LINKS.secret_key, pupil.id)
    account = news_subscription.account_of(town.session, LINKS.secret_key, token)
    news_subscription.unsubscribe(town.session, town.clock, account.id)
    news_subscription.unsubscribe(town.session, town.clock, account.id)  # a second click

    send(town, Criteria(school=SCHOOL_A))
    news.mail_pending(town.session, town.clock, LINKS)
    family_notices.expiry_reminders(town.session, town.clock, LINKS.base_url)

    templates = town.session.scalars(
        select(OutboxMessage.template).where(OutboxMessage.recipient == pupil.email)
    ).all()
    assert templates == ["document_bientot_expire"]
    assert news.of_foyer(town.session, foyer.id)[0].title == "Sortie au musée"  # still shown
    news_subscription.resubscribe(town.session, pupil.id)
    assert town.session.scalar(select(func.count()).select_from(NewsOptOut)) == 0


def test_a_forged_unsubscribe_token_is_refused(town: Town) -> None:
    family = town.family()
    token = news_subscription.unsubscribe_token("another secret" * 3, family.id)
    with pytest.raises(news_subscription.InvalidUnsubscribeLink):
        news_subscription.account_of(town.session, LINKS.secret_key, token)
    agent_token = news_subscription.unsubscribe_token(LINKS.secret_key, town.supervisor.id)
    with pytest.raises(news_subscription.InvalidUnsubscribeLink):
        news_subscription.account_of(town.session, LINKS.secret_key, agent_token)


def test_a_family_reads_only_the_news_addressed_to_its_foyer(town: Town) -> None:
    reached, other = town.pupil(SCHOOL_A), town.pupil(SCHOOL_B)
    older = send(town, Criteria(school=SCHOOL_A), title="Première")
    town.clock.advance(timedelta(hours=1))
    newer = send(town, Criteria(), title="Seconde")
    assert [item.title for item in news.of_foyer(town.session, reached.foyer_id)] == [
        "Seconde",
        "Première",
    ]
    assert [item.title for item in news.of_foyer(town.session, other.foyer_id)] == ["Seconde"]
    with pytest.raises(news.NewsNotFound):
        news.read(town.session, town.clock, other.foyer_id, older.id, by_family=True)
    assert news.unread_count(town.session, reached.foyer_id) == 2
    opened = news.read(town.session, town.clock, reached.foyer_id, newer.id, by_family=True)
    assert opened.title == "Seconde"
    assert news.unread_count(town.session, reached.foyer_id) == 1
    assert news.sent_one(town.session, author(town), newer.id).read_foyers == 1


def test_a_partner_writes_only_to_the_families_it_deals_with(town: Town) -> None:
    # The neighbourhood centres' association: no counter, one activity of its own.
    partner = make_service(town.session, code="maisons-de-quartier")
    workshop = make_activity(town.session, partner)
    member, stranger = town.pupil(SCHOOL_A), town.pupil(SCHOOL_A)
    child = town.session.get_one(Foyer, member.foyer_id).members[-1]
    activities.enrol(
        town.session, town.clock, workshop.id, child.id, date(2026, 9, 1), date(2027, 7, 3)
    )
    supervisor = make_supervisor(town.session, town.clock, partner)
    draft = news.Draft(partner.id, "Atelier", "Reprise mercredi.", Criteria())

    sent = news.publish(
        town.session, town.clock, news.Author(supervisor.id, frozenset({partner.id})), draft
    )

    assert foyers_of(town, sent) == {member.foyer_id}  # not every family of the town
    assert news.preview(town.session, town.clock, Criteria(), partner.id).foyers == 1
    town_wide = news.preview(town.session, town.clock, Criteria(), town.service.id).foyers
    assert town_wide == 2 and stranger.foyer_id != member.foyer_id  # the town reaches both


def test_only_a_supervisor_of_the_service_sends_in_its_name(town: Town) -> None:
    town.pupil(SCHOOL_A)
    agent = make_agent(town.session, town.clock, town.service)
    draft = news.Draft(town.service.id, "Titre", "Texte", Criteria())
    with pytest.raises(news.NotSupervisor):
        news.publish(town.session, town.clock, news.Author(agent.id, frozenset()), draft)
    with pytest.raises(news.NewsRefused):
        send(town, Criteria(), title="   ")
    assert town.session.scalar(select(func.count()).select_from(News)) == 0
    assert town.session.get(Account, agent.id) is not None


def test_the_worker_s_standard_jobs_mail_the_news(
    town: Town, sessions: sessionmaker[Session], mail: MailSettings, mailbox: Mailbox
) -> None:
    pupil = town.pupil(SCHOOL_A)
    send(town, Criteria(school=SCHOOL_A))
    worker = Worker(sessions=sessions, clock=town.clock, name="news")
    register_standard_jobs(worker, town.vault, mail, LINKS.base_url, secret_key=LINKS.secret_key)

    worker.tick(town.clock.now())  # the news job queues the e-mail
    town.clock.advance(timedelta(seconds=30))
    worker.tick(town.clock.now())  # the outbox job sends it

    subjects = [message["Subject"] for message in mailbox.to(pupil.email)]
    assert subjects == [f"{town.service.name} : Sortie au musée"]
