"""The e-mails the portal sends: each one's subject and body in French, and how they are filled."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from string import Template

EXPIRY_TEMPLATE = "document_bientot_expire"
DRAFT_REMINDER_TEMPLATE = "brouillon_rappel"
GUICHET_TEMPLATE = "guichet_acte"
PLACE_OFFER_TEMPLATE = "place_liberee"  # reservations: a freed place held for a family
INVOICE_TEMPLATE = "facture_emise"  # facturation: a month's invoice, in the family's vault
INACTIVITY_TEMPLATE = "espace_inutilise"  # accounts: an unused space, before it is closed
DEROGATION_TEMPLATE = "derogation_directeur"  # a school director told of a commission's decision
VAULT_PATH = "/famille/coffre"


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    body: str


class InvalidNotification(Exception):
    """No such template, or a context that does not give exactly the template's fields."""


_SIGNATURE = """

Cordialement,
Le portail famille de votre commune

Ce message est envoyé automatiquement, merci de ne pas y répondre.
"""

TEMPLATES: dict[str, MessageTemplate] = {
    "demande_recue": MessageTemplate(
        subject="Demande $reference : nous avons bien reçu votre demande",
        body="""Bonjour,

Nous avons bien reçu votre demande « $demarche » (référence $reference).
Le service concerné va l'étudier ; vous recevrez un courriel à chaque étape.

Vous pouvez suivre son avancement dans votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "document_demande": MessageTemplate(
        subject="Demande $reference : un justificatif vous est demandé",
        body="""Bonjour,

Pour instruire votre demande « $demarche » (référence $reference), le service a besoin
du justificatif suivant : $type_document.

Vous pouvez le déposer, ou choisir un document déjà présent dans votre coffre-fort,
depuis votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "decision": MessageTemplate(
        subject="Demande $reference : une décision a été prise",
        body="""Bonjour,

Une décision a été prise sur votre demande « $demarche » (référence $reference).

Vous pouvez en prendre connaissance dans votre espace famille :
$lien"""
        + _SIGNATURE,
    ),
    "escalade": MessageTemplate(
        subject="Demande $reference : échéance dépassée",
        body="""Bonjour,

La demande « $demarche » (référence $reference), confiée au service $service, devait être
traitée au plus tard le $echeance. Ce délai est dépassé.

Merci de la prendre en charge ou de la réaffecter dès que possible :
$lien"""
        + _SIGNATURE,
    ),
    DEROGATION_TEMPLATE: MessageTemplate(
        subject="Dérogation scolaire $reference : $decision",
        body="""Bonjour,

La commission des dérogations scolaires a examiné la demande $reference pour l'enfant
$enfant.

École du secteur : $ecole_secteur
École demandée : $ecole_demandee
Décision : dérogation $decision.

$suite Le service des affaires scolaires reste à votre disposition pour toute question."""
        + _SIGNATURE,
    ),
    EXPIRY_TEMPLATE: MessageTemplate(
        subject="Votre justificatif « $type_document » expire le $date_expiration",
        body="""Bonjour,

Votre justificatif « $type_document », conservé dans votre coffre-fort numérique,
ne sera plus valable après le $date_expiration.

Pensez à déposer un document à jour pour vos prochaines demandes :
$lien"""
        + _SIGNATURE,
    ),
    INACTIVITY_TEMPLATE: MessageTemplate(
        subject="Votre espace famille sera fermé le $date_fermeture",
        body="""Bonjour,

Personne ne s'est connecté à l'espace famille de votre foyer depuis longtemps. Sans
connexion de votre part, il sera fermé le $date_fermeture : les documents de votre
coffre-fort numérique seront alors détruits de façon définitive, et vos comptes fermés.

Pour garder votre espace, il suffit de vous connecter avant cette date :
$lien

Vous pouvez aussi, une fois connecté, récupérer tous vos documents et vos données
(« Télécharger tout mon coffre-fort ») avant la fermeture."""
        + _SIGNATURE,
    ),
    DRAFT_REMINDER_TEMPLATE: MessageTemplate(
        subject="Votre demande « $demarche » en brouillon sera supprimée le $date_suppression",
        body="""Bonjour,

Vous avez commencé une demande « $demarche » sans l'envoyer. Ce brouillon n'a pas été
modifié depuis plus de trois semaines : il sera supprimé le $date_suppression.

Pour la terminer et l'envoyer, ou simplement la conserver, ouvrez-la depuis votre
espace famille avant cette date :
$lien

Les justificatifs de votre coffre-fort ne sont pas concernés : seul le brouillon sera
supprimé."""
        + _SIGNATURE,
    ),
    "activation_compte": MessageTemplate(
        subject="Activez votre compte sur le portail famille",
        body="""Bonjour,

Vous venez de créer un compte sur le portail famille. Pour l'activer, ouvrez ce lien
dans les 48 heures :
$lien

Si vous n'êtes pas à l'origine de cette demande, ignorez ce message."""
        + _SIGNATURE,
    ),
    "reinitialisation_mot_de_passe": MessageTemplate(
        subject="Réinitialisation de votre mot de passe",
        body="""Bonjour,

Une réinitialisation du mot de passe de votre compte a été demandée. Pour choisir un
nouveau mot de passe, ouvrez ce lien dans les 2 heures :
$lien

Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe
reste inchangé."""
        + _SIGNATURE,
    ),
    GUICHET_TEMPLATE: MessageTemplate(
        subject="Une démarche a été faite pour vous au guichet",
        body="""Bonjour,

Au guichet de votre commune, $agent a fait pour votre foyer :
$operations

Vous pouvez le retrouver dans votre espace famille :
$lien

Si vous n'êtes pas venu au guichet ou n'avez pas demandé cette démarche, contactez
votre mairie."""
        + _SIGNATURE,
    ),
    "invitation_foyer": MessageTemplate(
        subject="Invitation à rejoindre un foyer sur le portail famille",
        body="""Bonjour,

$invitant vous invite à rejoindre son foyer sur le portail famille, pour suivre ensemble
les démarches de vos enfants. Pour créer votre compte, ouvrez ce lien dans les 7 jours :
$lien"""
        + _SIGNATURE,
    ),
    "invitation_agent": MessageTemplate(
        subject="Votre compte d'agent sur le portail famille",
        body="""Bonjour,

Un compte d'agent a été créé pour vous sur le portail famille ($entite).
Pour choisir votre mot de passe, ouvrez ce lien dans les 7 jours :
$lien

À votre première connexion, le portail vous demandera d'ajouter votre compte à une
application d'authentification (FreeOTP, Google Authenticator…) sur votre téléphone."""
        + _SIGNATURE,
    ),
}

_MONTHS = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"


def date_fr(day: date) -> str:
    """A date as written in a French letter: « 1er septembre 2026 », « 15 septembre 2026 »."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{number} {_MONTHS.split()[day.month - 1]} {day.year}"


def render(template: str, context: Mapping[str, str]) -> tuple[str, str]:
    """The subject and plain-text body of a template filled with its context."""
    chosen = TEMPLATES.get(template)
    if chosen is None:
        raise InvalidNotification(f"unknown template {template!r}")
    needed = set(Template(chosen.subject).get_identifiers())
    needed |= set(Template(chosen.body).get_identifiers())
    if set(context) != needed:
        # Field names only: the values may be personal data.
        raise InvalidNotification(
            f"template {template!r} needs {sorted(needed)}, got {sorted(context)}"
        )
    return Template(chosen.subject).substitute(context), Template(chosen.body).substitute(context)


# An agent wrote to the family from the review page. The message itself stays on the portal:
# an e-mail is neither private nor proof of who sent it.
AGENT_MESSAGE_TEMPLATE = "message_service"
TEMPLATES[AGENT_MESSAGE_TEMPLATE] = MessageTemplate(
    subject="Demande $reference : le service vous a écrit",
    body="""Bonjour,

Le service qui traite votre demande « $demarche » (référence $reference) vous a adressé
un message.

Vous pouvez le lire dans votre espace famille :
$lien"""
    + _SIGNATURE,
)

# Who came into a foyer: its space opened at the counter, a family code issued for it, an
# adult asking to join it (guichet.sessions, accounts.joining). Every adult of
# the foyer is told, so that nobody gets in unseen.
# A message flow from a procedure's diagram to the family's pool.
PROCESS_MESSAGE_TEMPLATE = "message_demarche"
TEMPLATES[PROCESS_MESSAGE_TEMPLATE] = MessageTemplate(
    subject="Demande $reference : un message de la mairie",
    body="""Bonjour,

La mairie vous adresse un message au sujet de votre demande « $demarche »
(référence $reference) : $objet.

Vous pouvez le consulter, et y répondre s'il attend une réponse, dans votre espace famille :
$lien"""
    + _SIGNATURE,
)

COUNTER_OPENED_TEMPLATE = "guichet_ouverture"
FAMILY_CODE_TEMPLATE = "guichet_code_famille"
JOIN_REQUEST_TEMPLATE = "foyer_demande_rejoindre"
JOIN_ACCEPTED_TEMPLATE = "foyer_rejoint"
JOIN_REFUSED_TEMPLATE = "foyer_rejoindre_refuse"
TEMPLATES[COUNTER_OPENED_TEMPLATE] = MessageTemplate(
    subject="L'espace de votre foyer a été ouvert au guichet",
    body="""Bonjour,

Au guichet, $agent ($entite) a ouvert l'espace de votre foyer sur le portail famille
pour faire des démarches avec vous. Chaque démarche faite pour vous au guichet vous sera
signalée par courriel.

Votre espace famille :
$lien

Si personne de votre foyer n'est venu au guichet, contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[FAMILY_CODE_TEMPLATE] = MessageTemplate(
    subject="Un code famille a été remis pour votre foyer",
    body="""Bonjour,

Au guichet, $agent ($entite) a remis un nouveau code famille pour votre foyer. Ce code
permet à un adulte de créer son compte sur le portail famille et de demander à rejoindre
votre foyer : il ne verra rien de votre foyer tant qu'un adulte du foyer n'aura pas
accepté sa demande depuis l'espace famille :
$lien

Si personne de votre foyer n'a demandé ce code, contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[JOIN_REQUEST_TEMPLATE] = MessageTemplate(
    subject="Une personne demande à rejoindre votre foyer",
    body="""Bonjour,

La personne qui utilise l'adresse $personne a créé un compte sur le portail famille
avec un code famille de votre foyer et demande à le rejoindre. Elle ne voit rien de
votre foyer (justificatifs, demandes) tant qu'un adulte du foyer n'a pas accepté.

Pour accepter ou refuser, ouvrez votre espace famille :
$lien

Si vous ne connaissez pas cette personne, refusez et contactez votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[JOIN_ACCEPTED_TEMPLATE] = MessageTemplate(
    subject="Vous avez rejoint votre foyer sur le portail famille",
    body="""Bonjour,

Un adulte de votre foyer a accepté votre demande : votre compte a maintenant accès à
l'espace de votre foyer.

Votre espace famille :
$lien"""
    + _SIGNATURE,
)
TEMPLATES[JOIN_REFUSED_TEMPLATE] = MessageTemplate(
    subject="Votre demande pour rejoindre un foyer n'a pas été acceptée",
    body="""Bonjour,

Un adulte du foyer que vous avez demandé à rejoindre a refusé votre demande. Le compte
créé avec le code famille a été fermé.

S'il s'agit d'une erreur, adressez-vous au guichet de votre mairie."""
    + _SIGNATURE,
)
TEMPLATES[INVOICE_TEMPLATE] = MessageTemplate(
    subject="Votre facture de $mois : $montant",
    body="""Bonjour,

La facture $numero de $entite pour $mois, d'un montant de $montant, est dans votre
coffre-fort numérique et sur la page « Factures et paiements » de votre espace famille.
Elle est à régler avant le $echeance.

$lien"""
    + _SIGNATURE,
)
TEMPLATES[PLACE_OFFER_TEMPLATE] = MessageTemplate(
    subject="Une place s'est libérée : $activite le $jour",
    body="""Bonjour,

Une place s'est libérée pour $enfant à l'activité « $activite » le $jour.
Elle vous est réservée jusqu'au $jusqu_au : confirmez-la dans votre espace famille
avant cette date, sinon elle sera proposée à la famille suivante.

$lien"""
    + _SIGNATURE,
)

# coffre.upkeep.scanning: the antivirus found malware in a deposited file, now quarantined.
QUARANTINE_TEMPLATE = "document_quarantaine"
TEMPLATES[QUARANTINE_TEMPLATE] = MessageTemplate(
    subject="Un document de votre coffre-fort a été mis en quarantaine",
    body="""Bonjour,

L'antivirus du portail a détecté un logiciel malveillant dans le fichier déposé le
$date_depot comme « $type_document ». Le document a été mis en quarantaine : son
contenu a été supprimé et personne, ni vous ni les services de la mairie, ne peut
plus l'ouvrir.

Votre appareil est peut-être infecté : faites-le vérifier, puis déposez une copie saine
du document depuis votre coffre-fort :
$lien"""
    + _SIGNATURE,
)

# coffre.portability.prepared: a large vault's export, prepared in the background, is ready.
# Nothing of the vault's content is in the e-mail: the link leads to the vault page, behind
# the login.
EXPORT_READY_TEMPLATE = "export_pret"
TEMPLATES[EXPORT_READY_TEMPLATE] = MessageTemplate(
    subject="L'export de votre coffre-fort est prêt",
    body="""Bonjour,

L'export de tout votre coffre-fort numérique, demandé depuis votre espace famille, est
prêt. Vous pouvez le télécharger depuis votre coffre-fort jusqu'au $date_limite :
$lien

Passé cette date, il sera supprimé ; vous pourrez alors en demander un nouveau."""
    + _SIGNATURE,
)

# messagerie.threads: a new message in a thread. The e-mail says who wrote and where to read
# it, nothing of the message (neither its subject nor its text): the family reads it behind
# the login, and an e-mail is neither private nor proof of who sent it.
THREAD_MESSAGE_TEMPLATE = "messagerie_nouveau_message"
TEMPLATES[THREAD_MESSAGE_TEMPLATE] = MessageTemplate(
    subject="Vous avez un nouveau message de $service",
    body="""Bonjour,

Vous avez un nouveau message de $service sur le portail famille.

Vous pouvez le lire dans votre espace famille :
$lien"""
    + _SIGNATURE,
)
# The service's agents, when a family writes: as little, not even the family's name.
THREAD_MESSAGE_AGENT_TEMPLATE = "messagerie_message_famille"
TEMPLATES[THREAD_MESSAGE_AGENT_TEMPLATE] = MessageTemplate(
    subject="Service $service : vous avez un nouveau message d'une famille",
    body="""Bonjour,

Une famille a écrit au service $service sur le portail famille.

Vous pouvez lire son message dans votre espace agent :
$lien"""
    + _SIGNATURE,
)

# messagerie.news: a news item a service sent to the foyers chosen by its criteria. It is
# information, not a notice the law requires: the e-mail ends with its unsubscribe link.
NEWS_TEMPLATE = "actualite"
TEMPLATES[NEWS_TEMPLATE] = MessageTemplate(
    subject="$service : $titre",
    body="""Bonjour,

$service vous adresse cette information :

$titre

$texte

Vous la retrouvez dans les actualités de votre espace famille :
$lien"""
    + _SIGNATURE
    + """
Pour ne plus recevoir les actualités par courriel (les messages sur vos demandes et vos
justificatifs vous seront toujours envoyés) :
$desabonnement
""",
)
