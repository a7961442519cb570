"""The French labels and one-line definitions of the KPIs (`kpis.Figures`), and how each is shown: the page
`/statistiques/definitions` lists them with an anchor per figure, and every figure on screen links to its anchor.
Pure data and formatting, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from screenpop.statistics.kpis import CALLBACK_FIGURE_NAMES, FIGURE_NAMES, Figure, Thresholds

Unit = Literal["count", "percent", "duration"]
DASH = "—"


@dataclass(frozen=True, slots=True)
class Definition:
    name: str  # the field of `kpis.Figures`, also the anchor (#def-<name>)
    label: str
    unit: Unit
    text: str  # one line, French; {short}, {t}, {repeat}, {cap}, {answer_target}, {sl_target} filled in

    @property
    def anchor(self) -> str:
        return f"def-{self.name.replace('_', '-')}"

    def sentence(self, t: Thresholds) -> str:
        return self.text.format(
            short=_number(t.short_abandon),
            t=_number(t.service_level),
            repeat=t.repeat_days,
            cap=_number(t.wrap_up_cap),
            answer_target=_number(t.answer_rate_target * 100),
            sl_target=_number(t.service_level_target * 100),
        )


_DEFINITIONS = (
    Definition("calls", "Appels reçus", "count", "Tous les appels arrivés sur la ligne, ouverte ou fermée."),
    Definition(
        "offered",
        "Appels présentés",
        "count",
        "Appels arrivés pendant les heures d'ouverture de la ligne ; les appels hors horaires sont comptés à part.",
    ),
    Definition(
        "closed", "Appels hors horaires", "count", "Appels arrivés ligne fermée : ils n'entrent dans aucun taux."
    ),
    Definition("answered", "Appels décrochés", "count", "Appels présentés mis en relation avec un conseiller."),
    Definition(
        "answer_rate",
        "Taux de décroché",
        "percent",
        "Appels décrochés ÷ (appels présentés − abandons courts), indicateur Services Publics+ ; "
        "objectif {answer_target} %.",
    ),
    Definition(
        "abandoned",
        "Abandons",
        "count",
        "Appels présentés où l'appelant a raccroché en attente après au moins {short} s (hors abandons courts).",
    ),
    Definition(
        "short_abandoned",
        "Abandons courts",
        "count",
        "Appelants qui ont raccroché en attente avant {short} s : comptés à part, hors des taux.",
    ),
    Definition(
        "abandon_rate", "Taux d'abandon", "percent", "Abandons (hors courts) ÷ (appels présentés − abandons courts)."
    ),
    Definition(
        "failed",
        "Appels non aboutis",
        "count",
        "Appels présentés ni décrochés ni abandonnés en attente (raccroché dans le menu vocal, délai dépassé…).",
    ),
    Definition(
        "service_level",
        "Niveau de service",
        "percent",
        "Appels décrochés en {t} s d'attente au plus ÷ (appels présentés − abandons courts) ; objectif {sl_target} %.",
    ),
    Definition(
        "asa",
        "Attente moyenne avant décroché",
        "duration",
        "Moyenne de l'attente des seuls appels décrochés (ASA).",
    ),
    Definition(
        "average_abandon_time",
        "Attente moyenne avant abandon",
        "duration",
        "Moyenne de l'attente des seuls appels abandonnés (hors abandons courts).",
    ),
    Definition(
        "aht",
        "Durée moyenne de traitement",
        "duration",
        "(Conversation + mise en attente + après-appel) ÷ appels décrochés (DMT) ; un après-appel pas encore "
        "qualifié compte 0.",
    ),
    Definition(
        "average_talk",
        "Durée moyenne de conversation",
        "duration",
        "Conversation (du décroché à la fin de l'échange du conseiller, hors mise en attente) ÷ appels décrochés.",
    ),
    Definition(
        "average_hold",
        "Durée moyenne de mise en attente",
        "duration",
        "Temps de mise en attente (garde) pendant la conversation ÷ appels décrochés.",
    ),
    Definition(
        "average_wrap_up",
        "Durée moyenne d'après-appel",
        "duration",
        "De la fin de la conversation à l'enregistrement de la qualification, au plus {cap} s, "
        "moyenne des appels qualifiés.",
    ),
    Definition(
        "occupancy",
        "Taux d'occupation",
        "percent",
        "(Temps en communication + après-appel) ÷ (temps connecté − temps en pause) des conseillers.",
    ),
    Definition("transfers", "Transferts", "count", "Appels décrochés dont l'issue est un transfert vers un service."),
    Definition("transfer_rate", "Taux de transfert", "percent", "Transferts vers un service ÷ appels décrochés."),
    Definition(
        "immediate_answer_rate",
        "Taux de réponse immédiate",
        "percent",
        "Appels décrochés dont l'issue est « réponse immédiate » ÷ appels décrochés.",
    ),
    Definition(
        "callbacks_requested", "Rappels demandés", "count", "Appels décrochés pour lesquels un rappel est demandé."
    ),
    Definition(
        "callback_request_rate",
        "Taux de rappel demandé",
        "percent",
        "Rappels demandés ÷ appels décrochés.",
    ),
    Definition(
        "repeat_callers",
        "Appelants récurrents",
        "percent",
        "Appels présentés d'un numéro qui avait déjà appelé dans les {repeat} jours précédents ÷ appels présentés.",
    ),
    Definition(
        "unanswered_questions",
        "Questions sans réponse",
        "count",
        "Appels pour lesquels le conseiller a noté « pas de réponse trouvée » dans la base de connaissances.",
    ),
    # the callbacks, over those created (qualification saved with « rappel demandé ») in the period
    Definition(
        "callbacks_created",
        "Rappels créés",
        "count",
        "Rappels enregistrés avec la qualification d'un appel (« rappel demandé ») pendant la période.",
    ),
    Definition(
        "callbacks_done",
        "Rappels effectués",
        "count",
        "Rappels créés pendant la période où le citoyen a été joint (tentative « joint »).",
    ),
    Definition(
        "callbacks_cancelled",
        "Rappels annulés",
        "count",
        "Rappels créés pendant la période puis annulés avec un motif (ou décochés à la requalification).",
    ),
    Definition(
        "callback_completion",
        "Taux de rappels effectués",
        "percent",
        "Rappels effectués ÷ (rappels créés − rappels annulés) ; un rappel encore en attente compte comme "
        "non effectué.",
    ),
    Definition(
        "callback_within_day",
        "Rappels effectués sous un jour ouvré",
        "percent",
        "Parmi les rappels effectués, part de ceux faits avant la même heure le jour d'ouverture suivant de la ligne "
        "(demandé vendredi à 16 h, effectué lundi avant 16 h).",
    ),
    Definition(
        "callback_median_delay",
        "Délai médian de rappel",
        "duration",
        "Médiane du temps entre la demande de rappel et le rappel effectué, sur les rappels effectués.",
    ),
    Definition(
        "callback_attempts",
        "Tentatives par rappel",
        "count",
        "Tentatives d'appel enregistrées sur les rappels effectués (celle qui a joint comprise) ÷ rappels effectués.",
    ),
    # live, on the wallboard only
    Definition(
        "callbacks_open",
        "Rappels en attente",
        "count",
        "Rappels demandés ni effectués ni annulés, maintenant, quel que soit le jour de la demande ; « en retard » : "
        "au-delà d'un jour ouvré (pas faits avant la même heure le jour d'ouverture suivant de la ligne).",
    ),
)
# the figures of the wallboard alone (a state now, not a period's)
LIVE_NAMES: tuple[str, ...] = ("callbacks_open",)

DEFINITIONS: dict[str, Definition] = {d.name: d for d in _DEFINITIONS}
assert tuple(DEFINITIONS) == FIGURE_NAMES + CALLBACK_FIGURE_NAMES + LIVE_NAMES, (
    "every figure has its definition, in the order of kpis.Figures then kpis.CallbackFigures"
)
# shown with one decimal (« 1,5 »), not rounded to a whole count
DECIMALS = frozenset({"callback_attempts"})


def _number(value: float, decimals: int = 1) -> str:
    """A French decimal: comma, no trailing ',0', narrow no-break space between thousands."""
    text = f"{value:,.{decimals}f}".replace(",", "\u202f").replace(".", ",")
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return text


def duration(seconds: float | None) -> str:
    """« 1 min 49 s », « 2 h 05 min », « 12 s »; None → « — »."""
    if seconds is None:
        return DASH
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def percent(share: float | None) -> str:
    """« 85,3 % » (one decimal), None → « — »."""
    return DASH if share is None else f"{_number(share * 100)}\u00a0%"


def count(n: float | None) -> str:
    return DASH if n is None else _number(n, 0)


def show(name: str, figure: Figure) -> str:
    """A figure as the pages show it, in French."""
    return show_value(name, figure.value)


def show_value(name: str, value: float | None) -> str:
    """A figure's value (`Figure.value`) as the pages show it, in French."""
    unit = DEFINITIONS[name].unit
    if unit == "percent":
        return percent(value)
    if unit == "duration":
        return duration(value)
    if name in DECIMALS:
        return DASH if value is None else _number(value)
    return count(value)


def plain(name: str, figure: Figure) -> str:
    """A figure for a French spreadsheet (CSV): decimal comma, no unit, no thousands separator; empty for « — »:
    percentages as percent with two decimals, durations in seconds with one decimal."""
    value = figure.value
    if value is None:
        return ""
    unit = DEFINITIONS[name].unit
    if unit == "percent":
        return f"{value * 100:.2f}".replace(".", ",")
    if unit == "duration" or name in DECIMALS:
        return f"{value:.1f}".replace(".", ",")
    return str(round(value))
