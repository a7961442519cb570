"""Write `gps_admin/data/annuaire-demo-62.csv`, the demo's directory of the Pas-de-Calais (made-up contacts).

Every name ends with « (exemple) »; phone numbers are in 03 53 01 xx xx (believed to be the range ARCEP keeps for
fiction in the 03 zone; in any case not the partners' real numbers), e-mails and websites under example.org.
The territories are real (INSEE codes, EPCI SIREN, arrondissements of the sous-préfectures, from
`storage/data/communes-france.csv`). Run from the repository's root: `python scripts/make_demo_directory.py`.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from itertools import count
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screenpop.directory.csvfile import FIELDS, TITLES  # noqa: E402

OUT = ROOT / "gps_admin" / "data" / "annuaire-demo-62.csv"
COMMUNES = list(csv.DictReader((ROOT / "storage" / "data" / "communes-france.csv").open(encoding="utf-8")))
PDC = {c["nom"]: c for c in COMMUNES if c["departement"] == "62"}
ARRONDISSEMENTS: dict[str, list[str]] = defaultdict(list)
for commune in PDC.values():
    ARRONDISSEMENTS[commune["arrondissement_nom"]].append(commune["code_insee"])

_numbers = count(1)
WEEK = "lun-ven 08:30-12:00 13:30-17:00"
TOWN_HALL = "lun-ven 08:30-12:00 13:30-17:30; sam 09:00-12:00"


def phone(label: str | None = None, staff: bool = False) -> str:
    n = next(_numbers)
    text = f"03 53 01 {n // 100:02d} {n % 100:02d}"
    return text + (f" ({label})" if label else "") + (" [agents]" if staff else "")


def place(name: str) -> dict[str, str]:
    c = PDC[name]
    return {"postal_code": c["codes_postaux"].split()[0], "city": c["nom"], "commune_insee": c["code_insee"]}


def epci(*names: str) -> str:
    return " ".join(sorted({PDC[n]["epci_siren"] for n in names}))


def arrondissement_epcis(*arrondissements: str) -> str:
    """Every EPCI with a commune in these arrondissements: the two CPAMs together serve the whole département."""
    return " ".join(
        sorted(
            {c["epci_siren"] for c in PDC.values() if c["arrondissement_nom"] in arrondissements and c["epci_siren"]}
        )
    )


def of(town: str) -> str:
    """« de Lens », « d'Arras »."""
    return f"d'{town}" if town[0] in "AEÉHIOU" else f"de {town}"


def entry(ref: str, kind: str, name: str, town: str, **values: str) -> dict[str, str]:
    return {
        "ref": f"demo:{ref}",
        "kind": kind,
        "name": f"{name} (exemple)",
        "active": "oui",
        "owner": "admin",
        **place(town),
        "verified_on": "2026-11-02",
        **values,
    }


def entries() -> list[dict[str, str]]:
    found = [
        entry(
            "caf-62",
            "caf",
            "CAF du Pas-de-Calais",
            "Arras",
            street="12 rue de l'Exemple",
            phones=f"3230 (numéro national) | {phone('accueil Arras')} | {phone('ligne partenaires', staff=True)}",
            hours="lun-ven 08:30-16:30",
            departements="62",
            website="https://caf.example.org/",
            public_note="Sur rendez-vous de préférence ; simulateurs et démarches sur le site.",
            staff_contact="Mme Exemple, responsable accueil (ligne partenaires)",
        ),
        entry(
            "caf-calais",
            "caf",
            "CAF — accueil de Calais",
            "Calais",
            street="3 place de l'Exemple",
            phones=f"3230 (numéro national) | {phone('accueil')}",
            hours="lun-ven 08:30-12:00 13:30-16:00",
            epcis=epci("Calais"),
        ),
        entry(
            "cpam-artois",
            "cpam",
            "CPAM de l'Artois",
            "Arras",
            street="5 boulevard de l'Exemple",
            phones=f"3646 (numéro national) | {phone('accueil Arras')}",
            hours=WEEK,
            epcis=arrondissement_epcis("Arras", "Béthune", "Lens"),
            website="https://cpam-artois.example.org/",
        ),
        entry(
            "cpam-opale",
            "cpam",
            "CPAM de la Côte d'Opale",
            "Boulogne-sur-Mer",
            street="8 rue de l'Exemple",
            phones=f"3646 (numéro national) | {phone('accueil Boulogne')}",
            hours=WEEK,
            epcis=arrondissement_epcis("Boulogne-sur-Mer", "Calais", "Montreuil", "Saint-Omer"),
        ),
        entry(
            "mdph-62",
            "mdph",
            "MDPH du Pas-de-Calais",
            "Arras",
            street="1 allée de l'Exemple",
            phones=f"{phone('accueil')} | {phone('référents', staff=True)}",
            hours="lun-ven 09:00-12:00 13:30-16:30",
            departements="62",
            email="mdph@example.org",
            public_note="Dossier de demande à envoyer complet, certificat médical de moins d'un an.",
            staff_contact="Référent coordination (exemple) : ligne référents",
        ),
        entry(
            "prefecture-62",
            "prefecture",
            "Préfecture du Pas-de-Calais",
            "Arras",
            street="rue de l'Exemple",
            phones=phone("standard"),
            hours="lun-ven 09:00-12:00 13:30-16:00",
            communes=" ".join(sorted(ARRONDISSEMENTS["Arras"])),
            website="https://prefecture.example.org/",
            public_note="Titres (identité, passeport, permis, carte grise) : démarches en ligne ou en mairie.",
        ),
    ]
    for town, arrondissement in (("Béthune", "Béthune"), ("Boulogne-sur-Mer", "Boulogne-sur-Mer"),
                                 ("Calais", "Calais"), ("Lens", "Lens"), ("Montreuil-sur-Mer", "Montreuil"),
                                 ("Saint-Omer", "Saint-Omer")):  # fmt: skip
        found.append(
            entry(
                f"sous-pref-{PDC[town]['code_insee']}",
                "sub_prefecture",
                f"Sous-préfecture {of(town)}",
                town,
                street="place de l'Exemple",
                phones=phone("standard"),
                hours="lun-ven 09:00-12:00 13:30-16:00",
                communes=" ".join(sorted(ARRONDISSEMENTS[arrondissement])),
            )
        )
    for town, towns in (("Arras", ("Arras", "Avesnes-le-Comte", "Bapaume")), ("Lens", ("Lens", "Hénin-Beaumont")),
                        ("Béthune", ("Béthune",)), ("Calais", ("Calais",)),
                        ("Boulogne-sur-Mer", ("Boulogne-sur-Mer", "Marquise", "Desvres")),
                        ("Saint-Omer", ("Saint-Omer", "Lumbres"))):  # fmt: skip
        found.append(
            entry(
                f"ft-{PDC[town]['code_insee']}",
                "france_travail",
                f"France Travail {town}",
                town,
                street="avenue de l'Exemple",
                phones=f"3949 (numéro national) | {phone('partenaires', staff=True)}",
                hours="lun-jeu 08:30-16:30; ven 08:30-12:30",
                epcis=epci(*towns),
            )
        )
    for town in ("Fruges", "Lumbres", "Marquise", "Avesnes-le-Comte", "Auxi-le-Château", "Bapaume"):
        found.append(
            entry(
                f"fs-{PDC[town]['code_insee']}",
                "france_services",
                f"France Services {of(town)}",
                town,
                street="place de la Mairie",
                phones=phone("accueil"),
                hours="lun-ven 09:00-12:00 14:00-17:00",
                epcis=epci(town),
                public_note="Aide aux démarches en ligne (CAF, impôts, ANTS, retraite) avec un conseiller.",
            )
        )
    # no territory: it serves its own commune, and is "the nearest" for the other communes of its EPCI
    found.append(
        entry(
            "fs-62427",
            "france_services",
            "France Services d'Hénin-Beaumont",
            "Hénin-Beaumont",
            street="rue de l'Exemple",
            phones=phone("accueil"),
            hours="lun-ven 09:00-12:00 14:00-17:00",
        )
    )
    found += [
        entry(
            "pdc-habitat",
            "social_landlord",
            "Pas-de-Calais Habitat",
            "Arras",
            street="rue de l'Exemple",
            phones=f"{phone('locataires')} | {phone('urgences techniques, 24 h/24')}",
            hours="lun-ven 08:30-12:00 13:30-17:00",
            departements="62",
            website="https://habitat.example.org/",
        ),
        entry(
            "maisons-cites",
            "social_landlord",
            "Maisons et Cités",
            "Lens",
            street="boulevard de l'Exemple",
            phones=phone("locataires"),
            hours=WEEK,
            epcis=epci("Lens", "Hénin-Beaumont", "Béthune"),
        ),
        entry(
            "mds-arrageois",
            "mds",
            "Maison départementale des solidarités de l'Arrageois",
            "Arras",
            street="rue de l'Exemple",
            phones=phone("accueil"),
            hours=WEEK,
            epcis=epci("Arras", "Avesnes-le-Comte", "Bapaume"),
        ),
        entry(
            "mds-lens",
            "mds",
            "Maison départementale des solidarités de Lens-Liévin",
            "Lens",
            street="rue de l'Exemple",
            phones=phone("accueil"),
            hours=WEEK,
            epcis=epci("Lens"),
        ),
    ]
    for town in ("Arras", "Lens", "Liévin", "Béthune", "Boulogne-sur-Mer", "Calais", "Saint-Omer", "Hénin-Beaumont",
                 "Bruay-la-Buissière", "Berck", "Carvin", "Avion", "Outreau", "Étaples", "Arques"):  # fmt: skip
        code = PDC[town]["code_insee"]
        found.append(
            entry(
                f"mairie-{code}",
                "town_hall",
                f"Mairie {of(town)}",
                town,
                street="place de l'Hôtel de Ville",
                phones=f"{phone('standard')} | {phone('secrétariat général', staff=True)}",
                hours=TOWN_HALL,
                email=f"mairie-{code}@example.org",
            )
        )
        if town in ("Arras", "Lens", "Liévin", "Béthune", "Boulogne-sur-Mer", "Calais", "Saint-Omer", "Hénin-Beaumont"):
            found.append(
                entry(
                    f"ccas-{code}",
                    "ccas",
                    f"CCAS {of(town)}",
                    town,
                    street="rue de l'Exemple",
                    phones=phone("accueil"),
                    hours="lun-ven 08:30-12:00 13:30-17:00",
                )
            )
    return found


def main() -> None:
    OUT.parent.mkdir(exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as out:
        out.write("\ufeff")
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow([TITLES[f] for f in FIELDS])
        written = entries()
        for values in written:
            writer.writerow([values.get(f, "") for f in FIELDS])
    print(f"{OUT.relative_to(ROOT)}: {len(written)} entries")


if __name__ == "__main__":
    main()
