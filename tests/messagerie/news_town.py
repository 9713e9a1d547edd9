"""A town's families for the news' tests: pupils of two schools at their class level,
children enrolled in activities, documents expiring this month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from accounts import household
from accounts.models import Account, Role, Service
from coffre.clock import FrozenClock
from coffre.models import Foyer
from coffre.vault import Vault
from procedures import demandes
from procedures.demandes import FamilyActor
from procedures.history import EngineContext
from procedures.tasks import AgentActor
from tests.coffre.conftest import deposit, pdf_of
from tests.factories import make_account, make_service, make_supervisor
from tests.procedures.flows import agent_of, publish, work

SCHOOL_A, SCHOOL_B = "École des Acacias", "École Berlioz"


@dataclass
class Town:
    session: Session
    ctx: EngineContext
    vault: Vault
    school_agent: AgentActor
    service: Service
    supervisor: Account

    @property
    def clock(self) -> FrozenClock:
        clock = self.ctx.clock
        assert isinstance(clock, FrozenClock)
        return clock

    def family(self, *adults: str) -> Account:
        """A family account with its foyer; more adults' accounts join it when named."""
        first = make_account(self.session, self.clock, Role.FAMILLE)
        for email in adults:
            make_account(
                self.session, self.clock, Role.FAMILLE, email=email, foyer_id=first.foyer_id
            )
        return first

    def pupil(self, school: str, level: str | None = None, *adults: str) -> Account:
        """A family whose child goes to `school`, registered at `level` (accepted) if given."""
        account = self.family(*adults)
        assert account.foyer_id is not None
        child = household.add_child(
            self.session, account.foyer_id, first_name="Lou", last_name="Test",
            birth_date=date(2020, 3, 1), school=school,
        )  # fmt: skip
        if level is not None:
            self.register(account, child, level, school)
        return account

    def register(self, account: Account, child: int, level: str, school: str) -> None:
        """The school registration of the child, submitted by the family, accepted at `school`
        (the agent's choice: the registration writes it on the child's file)."""
        foyer = self.session.get_one(Foyer, account.foyer_id)
        actor = FamilyActor(account.id, foyer.id)
        papers = [
            deposit(self.vault, self.session, foyer, pdf_of(5000), issued_on=date(2026, 8, 10)),
            deposit(self.vault, self.session, foyer, pdf_of(5001), type_code="livret_famille"),
            deposit(
                self.vault, self.session, foyer, pdf_of(5002), type_code="carnet_vaccination",
                member_id=child,
            ),
        ]  # fmt: skip
        draft = demandes.create_draft(self.session, self.ctx, actor, "inscription_scolaire")
        form = {"enfant": str(child), "niveau": level, "date_entree": "2026-09-01"}
        demande = demandes.submit(
            self.session, self.ctx, actor, draft.id, form, [p.id for p in papers]
        )
        accepted = {"decision": "valider", "ecole": school}
        work(self.session, self.ctx, self.school_agent, demande, accepted)


def make_town(session: Session, ctx: EngineContext, vault: Vault) -> Town:
    """The school service with the school registration published, and its supervisor."""
    scolaire = make_service(session, code="scolaire")
    # The town: its reception, in the same entity, runs the counter (messagerie.audience).
    session.add(
        Service(entity_id=scolaire.entity_id, code="accueil", name="Accueil", runs_counter=True)
    )
    publish(session, ctx.clock, "inscription_scolaire")  # type: ignore[arg-type]
    return Town(
        session=session,
        ctx=ctx,
        vault=vault,
        school_agent=agent_of(session, ctx.clock, scolaire),  # type: ignore[arg-type]
        service=scolaire,
        supervisor=make_supervisor(session, ctx.clock, scolaire),
    )
