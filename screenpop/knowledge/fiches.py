"""Service-public.fr "Vos droits et démarches" fiches (DILA, XML format 3.3 as JSON), pure: one line → a `Fiche`.

Each line of the file is `{"id": "F1000", "children": [<root element>]}`, an XML tree as JSON (elements
`{"type": "element", "name", "attributes", "children"}`, texts `{"type": "text", "text"}`). The root
(`Publication` or `ServiceComplementaire`) holds the fiche's type, dates and live link in its attributes, and
in its children the Dublin Core title/description, the breadcrumb (`FilDAriane`), the theme, and the content:
`Introduction`, `Texte` (paragraphs, lists, tables, `Chapitre`/`SousChapitre`, `BlocCas`/`Cas`,
`ListeSituations`/`Situation`, « À noter » boxes), the linked online services, where to apply, references.
The content becomes Markdown (rendered by `render.to_html` like any article); internal links point to the
fiches' live pages. A line that is not such a document raises `FicheFormatError` with the reason: the import
reports it and writes nothing of it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from screenpop.knowledge.text import fold

PARSER_VERSION = 1  # part of the content hash: a better parser re-imports every fiche once
FICHE_ID = re.compile(r"[A-Z]{1,3}[0-9]{1,9}(-[0-9]{1,4})?")
LIVE_PAGE = "https://www.service-public.fr/particuliers/vosdroits/{id}"
TITLE_MAX = 300
CREDIT = "Source : Service-public.fr / DILA — fiches Vos droits et démarches (Licence Ouverte 2.0)"

Node = dict[str, Any]


class FicheFormatError(ValueError):
    """A line that is not a fiche of the expected format; the message says why."""


@dataclass(frozen=True, slots=True)
class Fiche:
    id: str
    type: str  # « Fiche d'information », « Fiche Question-réponse », « Formulaire »…
    title: str
    description: str
    date: date  # dateDerniereModificationImportante, else dc:date
    url: str  # the live page (spUrl)
    breadcrumb: tuple[str, ...]  # from the theme down, without « Accueil particuliers » nor the fiche itself
    body: str  # Markdown
    body_text: str  # plain text of the body

    @property
    def content_hash(self) -> str:
        payload = json.dumps(
            [PARSER_VERSION, self.type, self.title, self.description, self.date.isoformat(), self.url,
             list(self.breadcrumb), self.body],
            ensure_ascii=False,
        )  # fmt: skip
        return hashlib.sha256(payload.encode()).hexdigest()


# -- the tree --------------------------------------------------------------------------------------------------


def _children(node: Node) -> list[Node]:
    children = node.get("children") or []
    if not isinstance(children, list):
        raise FicheFormatError(f"children of <{node.get('name')}> is not a list")
    return [c for c in children if isinstance(c, dict)]


def _elements(node: Node, name: str | None = None) -> Iterator[Node]:
    for child in _children(node):
        if child.get("type") == "element" and (name is None or child.get("name") == name):
            yield child


def _first(node: Node, name: str) -> Node | None:
    return next(_elements(node, name), None)


def _attr(node: Node, name: str) -> str:
    attributes = node.get("attributes") or {}
    value = attributes.get(name, "") if isinstance(attributes, dict) else ""
    return value if isinstance(value, str) else ""


def _clean(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").replace("\u202f", " ").split())


def _plain(node: Node) -> str:
    """All the text under a node, whitespace collapsed."""
    parts: list[str] = []

    def walk(n: Node) -> None:
        if n.get("type") == "text":
            text = n.get("text", "")
            parts.append(text if isinstance(text, str) else "")
        for c in _children(n):
            walk(c)

    walk(node)
    return _clean("".join(parts))


# -- Markdown --------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_LINE_START = re.compile(r"^(\s*)([-+>]|\d+[.)])(\s)")
_SKIP = frozenset(
    {"Condition", "estVrai", "estIndefini", "affecteVrai", "affecteFaux", "Variable", "SiSelectionne",
     "IntituleSiSelectionne", "Branche", "Choix", "Aide", "Image", "Illustration", "Credits", "Legende",
     "Colonne", "TexteDeRemplacement"}
)  # fmt: skip
_BOXES = {"ANoter": "À noter", "ASavoir": "À savoir", "Attention": "Attention", "Rappel": "Rappel"}
_STRONG = frozenset({"Valeur", "MiseEnEvidence"})


def _escape(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def _url(value: str) -> str | None:
    value = value.strip()
    if re.fullmatch(r"https?://[^\s()<>]{1,2000}", value):
        return value
    return None


def _inline(node: Node) -> str:
    """The inline Markdown of a paragraph-like node."""
    out: list[str] = []
    for child in _children(node):
        if child.get("type") == "text":
            text = child.get("text", "")
            out.append(_escape(text.replace("\xa0", " ").replace("\u202f", " ")) if isinstance(text, str) else "")
            continue
        name = child.get("name")
        if name in _SKIP:
            continue
        inner = _inline(child)
        if not inner.strip():
            continue
        if name == "LienInterne" and FICHE_ID.fullmatch(_attr(child, "LienPublication")):
            out.append(f"[{inner.strip()}]({LIVE_PAGE.format(id=_attr(child, 'LienPublication'))})")
        elif name == "LienExterne" and (url := _url(_attr(child, "URL"))):
            out.append(f"[{inner.strip()}]({url})")
        elif name in _STRONG:
            out.append(f"**{inner.strip()}**")
        else:
            out.append(inner)
    return " ".join("".join(out).split())


def _paragraph(node: Node) -> str:
    text = _inline(node)
    return _LINE_START.sub(r"\1\\\2\3", text)


def _title(node: Node) -> str:
    found = _first(node, "Titre")
    return "" if found is None else _clean(_plain(found))


def _blocks(node: Node, level: int) -> list[str]:
    """The Markdown blocks of a block container; `level`: the heading level its sections take."""
    blocks: list[str] = []
    for child in _elements(node):
        blocks.extend(_block(child, level))
    return blocks


def _block(node: Node, level: int) -> list[str]:
    name = node.get("name")
    heading = "#" * min(level, 6)
    if name in _SKIP or name == "Titre":
        return []
    if name == "Paragraphe":
        text = _paragraph(node)
        return [text] if text else []
    if name == "Liste":
        marker = "1." if _attr(node, "type") == "numero" else "-"
        items = []
        for item in _elements(node, "Item"):
            inner = _blocks(item, level + 1)
            if inner:
                first, *rest = inner
                items.append(f"{marker} {first}" + "".join("\n\n" + _indent(b) for b in rest))
        return ["\n".join(items)] if items else []
    if name in ("Chapitre", "SousChapitre", "Situation", "Cas"):
        title = _title(node)
        inner = _blocks(node, level + 1)
        if name == "Cas" and title:
            return [f"{heading} {_escape(title)}", *inner] if inner else []
        return ([f"{heading} {_escape(title)}"] if title else []) + inner
    if name in _BOXES:
        inner = _blocks(node, level + 1)
        if not inner:
            return []
        label = _title(node) or _BOXES[name]
        quoted = "\n>\n".join(_quote(b) for b in [f"**{_escape(label)}**", *inner])
        return [quoted]
    if name == "Citation":
        text = _paragraph(node)
        return [_quote(text)] if text else []
    if name == "Tableau":
        return _table(node)
    return _blocks(node, level)


def _indent(block: str) -> str:
    return "\n".join(("   " + line) if line else line for line in block.splitlines())


def _quote(block: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in block.splitlines())


def _table(node: Node) -> list[str]:
    rows = []
    for row in _elements(node, "Rangée"):
        cells = [" ".join(_paragraph(p) for p in _elements(c, "Paragraphe")) or _escape(_plain(c))
                 for c in _elements(row, "Cellule")]  # fmt: skip
        rows.append((cells, _attr(row, "type") == "header"))
    if not rows:
        return []
    width = max(len(cells) for cells, _ in rows)
    lines = []
    header, *body = rows
    if not header[1]:
        body = rows
        header = ([""] * width, True)
    lines.append("| " + " | ".join(header[0] + [""] * (width - len(header[0]))) + " |")
    lines.append("|" + "---|" * width)
    lines.extend("| " + " | ".join(cells + [""] * (width - len(cells))) + " |" for cells, _ in body)
    title = _title(node)
    return ([f"**{_escape(title)}**"] if title else []) + ["\n".join(lines)]


def _links_section(title: str, entries: Iterable[tuple[str, str | None]]) -> list[str]:
    items = [f"- [{_escape(text)}]({url})" if url else f"- {_escape(text)}" for text, url in entries if text]
    return [f"## {title}", "\n".join(items)] if items else []


def _body(root: Node) -> str:
    blocks: list[str] = []
    for name in ("Introduction", "Texte", "ListeSituations"):
        for part in _elements(root, name):
            blocks.extend(_block(part, 2) if name == "ListeSituations" else _blocks(part, 2))
    cerfa = _first(root, "NumeroCerfa")
    if cerfa is not None and _plain(cerfa):
        blocks.append(f"Cerfa n° {_escape(_plain(cerfa))}")
    for link in _elements(root, "LienWeb"):
        if url := _url(_attr(link, "URL")):
            blocks.append(f"[Ouvrir le formulaire ou le service]({url})")
    for sub in _elements(root, "SousDossier"):
        blocks.extend(
            _links_section(
                _escape(_title(sub)) or "Fiches",
                ((_plain(f), LIVE_PAGE.format(id=_attr(f, "ID"))) for f in _elements(sub, "Fiche")
                 if FICHE_ID.fullmatch(_attr(f, "ID"))),
            )
        )  # fmt: skip
    online = list(_elements(root, "ServiceEnLigne"))
    blocks.extend(
        _links_section("Services en ligne et formulaires", ((_title(s), _url(_attr(s, "URL"))) for s in online))
    )
    where = []
    for place in _elements(root, "OuSAdresser"):
        web = _first(place, "RessourceWeb")
        where.append((_title(place), None if web is None else _url(_attr(web, "URL"))))
    blocks.extend(_links_section("Où s'adresser ?", where))
    more = [(_title(p), _url(_attr(p, "URL"))) for p in _elements(root, "PourEnSavoirPlus")]
    blocks.extend(_links_section("Pour en savoir plus", more))
    refs = [(_title(r), _url(_attr(r, "URL"))) for r in _elements(root, "Reference")]
    blocks.extend(_links_section("Textes de référence", refs))
    return "\n\n".join(b for b in blocks if b.strip())


_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\([^)\s]*\)")
_PREFIX = re.compile(r"^(?:#{1,6} |(?:> ?)+|\s*(?:- |[0-9]+\. ))+")
_UNESCAPE = re.compile(r"\\(.)")


def markdown_text(markdown: str) -> str:
    """The plain text of the Markdown this module writes (headings, lists, quotes, tables, links, bold), one line
    per block: what search indexes. (`render.to_text` does it for any Markdown, 30 times slower.)"""
    lines = []
    for raw in markdown.splitlines():
        if re.fullmatch(r"\|(---\|)+", raw):
            continue
        line = _PREFIX.sub("", raw)
        line = _LINK.sub(r"\1", line).replace("**", "")
        if line.startswith("|"):
            line = " ".join(cell.strip() for cell in re.split(r"(?<!\\)\|", line) if cell.strip())
        line = _UNESCAPE.sub(r"\1", line).strip()
        if line:
            lines.append(" ".join(line.split()))
    return "\n".join(lines)


# -- a line → a fiche ------------------------------------------------------------------------------------------


def _date(root: Node) -> date:
    important = _attr(root, "dateDerniereModificationImportante")
    candidates = [important[:10]] if important else []
    dc = _first(root, "dc:date")
    if dc is not None:
        match = re.search(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", _plain(dc))
        if match:
            candidates.append(match.group())
    for candidate in candidates:
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    raise FicheFormatError("no valid date (dateDerniereModificationImportante nor dc:date)")


def parse_line(line: str | bytes) -> Fiche:
    """One line of the file → a `Fiche`; raises `FicheFormatError` saying what is wrong."""
    try:
        document = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FicheFormatError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise FicheFormatError("not a JSON object")
    fiche_id = document.get("id")
    if not isinstance(fiche_id, str) or not FICHE_ID.fullmatch(fiche_id):
        raise FicheFormatError(f"missing or invalid id {fiche_id!r}")
    roots = [c for c in document.get("children") or [] if isinstance(c, dict) and c.get("type") == "element"]
    if len(roots) != 1:
        raise FicheFormatError(f"{fiche_id}: expected one root element, found {len(roots)}")
    root = roots[0]
    try:
        return _fiche(fiche_id, root)
    except RecursionError:
        raise FicheFormatError(f"{fiche_id}: nested too deeply") from None
    except (TypeError, AttributeError) as exc:
        raise FicheFormatError(f"{fiche_id}: unexpected structure ({exc})") from None


def _fiche(fiche_id: str, root: Node) -> Fiche:
    if _attr(root, "ID") != fiche_id:
        raise FicheFormatError(f"{fiche_id}: the root element's ID is {_attr(root, 'ID')!r}")
    kind = _clean(_attr(root, "type"))
    if not kind:
        raise FicheFormatError(f"{fiche_id}: no type")
    title_node = _first(root, "dc:title")
    title = "" if title_node is None else _plain(title_node)
    if not title:
        raise FicheFormatError(f"{fiche_id}: no title (dc:title)")
    if len(title) > TITLE_MAX:
        raise FicheFormatError(f"{fiche_id}: title longer than {TITLE_MAX} characters")
    description_node = _first(root, "dc:description")
    description = "" if description_node is None else _plain(description_node)[:2000]
    url = _url(_attr(root, "spUrl")) or LIVE_PAGE.format(id=fiche_id)
    trail = _first(root, "FilDAriane")
    breadcrumb = tuple(
        _plain(level)
        for level in ([] if trail is None else _elements(trail, "Niveau"))
        if _attr(level, "ID") not in ("Particuliers", fiche_id) and _plain(level)
    )
    body = _body(root)
    return Fiche(
        id=fiche_id,
        type=kind,
        title=title,
        description=description,
        date=_date(root),
        url=url,
        breadcrumb=breadcrumb,
        body=body,
        body_text=markdown_text(body),
    )


# Fiches that explain rank first; forms, online services, simulators and navigation pages after them.
SECONDARY_TYPES = frozenset(
    {"Formulaire", "Téléservice", "Téléservice personnalisé sur SP", "Simulateur", "Modèle de document",
     "Outil de recherche", "Recherche guidée", "Theme", "Fiche avec liens externes"}
)  # fmt: skip


def rank_factor(fiche: Fiche) -> float:
    """The search rank multiplier of a fiche (1 for the fiches that explain, 0.5 for the others)."""
    return 0.5 if fiche.type in SECONDARY_TYPES else 1.0


# -- topics ----------------------------------------------------------------------------------------------------

# Folded patterns on a fiche's title, description and breadcrumb → the desk's topic keys (default settings); keys
# the deployment does not configure are dropped at import.
TOPIC_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (key, re.compile(pattern))
    for key, pattern in (
        ("social_aid/rsa", r"\brsa\b|revenu de solidarite active|prime d'activite"),
        ("social_aid/housing", r"logement social|\bhlm\b|aides? au logement|\bapl\b|expulsion|\bfsl\b|"
                               r"fonds de solidarite (pour le )?logement|impaye de loyer"),
        ("social_aid", r"aide sociale|\bccas\b|minima sociaux"),
        ("elderly/apa", r"\bapa\b|allocation personnalisee d'autonomie"),
        ("elderly/nursing_home", r"\behpad\b|maison de retraite|accueil familial"),
        ("elderly", r"personnes? agees?|perte d'autonomie|\baspa\b|minimum vieillesse|teleassistance"),
        ("disability/pch", r"\bpch\b|prestation de compensation"),
        ("disability/mdph_file", r"\bmdph\b|maison departementale des personnes handicapees|\baah\b|"
                                 r"carte mobilite inclusion|\bcmi\b|\brqth\b"),
        ("disability", r"handicap"),
        ("secondary_schools/transport", r"transports? scolaires?"),
        ("secondary_schools/canteen", r"cantine|restauration scolaire"),
        ("secondary_schools/enrolment", r"inscription.{0,40}college|affectation.{0,40}college|carte scolaire"),
        ("secondary_schools", r"\bcolleg(e|es|ien|iens)\b|bourses? de college"),
        ("health/pmi", r"\bpmi\b|protection maternelle"),
        ("health/vaccination", r"vaccin"),
        ("childhood/childcare", r"assistante?s? maternelle|\bcreche|garde d'enfants?|mode de garde"),
        ("childhood/adoption", r"adoption|adopter|\bpupille"),
        ("childhood", r"aide sociale a l'enfance|protection de l'enfance|enfance en danger"),
        ("roads/winter", r"verglas|viabilite hivernale|intemperies"),
        ("roads", r"carte grise|certificat d'immatriculation|\broutes?\b|voirie|permis de conduire"),
        ("taxes/local_tax", r"taxe fonciere|taxe d'habitation"),
        ("taxes/income_tax", r"impot sur le revenu"),
        ("taxes", r"\bimpots?\b|taxe d'amenagement"),
    )
)  # fmt: skip


def fiche_topics(fiche: Fiche, known: Sequence[str] | None = None) -> tuple[str, ...]:
    """The desk topics a fiche is about (each sub-topic with its topic), limited to `known` keys when given."""
    text = fold(" ".join([fiche.title, fiche.description, *fiche.breadcrumb]))
    found: list[str] = []
    for key, pattern in TOPIC_RULES:
        if pattern.search(text):
            for part in (key.split("/")[0], key):
                if part not in found:
                    found.append(part)
    if known is not None:
        found = [k for k in found if k in known]
    return tuple(found)
