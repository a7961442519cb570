"""Readable diffs between two revisions (screenpop.knowledge.diff)."""

from __future__ import annotations

from screenpop.knowledge.diff import LineDiff, Op, Piece, revisions, words


def test_words_show_the_changed_amount_only() -> None:
    assert words("Le RSA est de 564,78 € par mois.", "Le RSA est de 607,75 € par mois.") == (
        Piece(Op.EQUAL, "Le RSA est de "),
        Piece(Op.DELETE, "564"),
        Piece(Op.INSERT, "607"),
        Piece(Op.EQUAL, ","),
        Piece(Op.DELETE, "78"),
        Piece(Op.INSERT, "75"),
        Piece(Op.EQUAL, " € par mois."),
    )


def test_identical_revisions_have_no_lines() -> None:
    diff = revisions("Titre", "a\nb\nc", "Titre", "a\nb\nc")
    assert diff.lines == () and diff.title == (Piece(Op.EQUAL, "Titre"),)
    assert (diff.added, diff.removed, diff.changed) == (0, 0, 0)


def test_lines_added_removed_changed_with_context() -> None:
    old = "\n".join(f"ligne {i}" for i in range(1, 21))
    new_lines = [f"ligne {i}" for i in range(1, 21)]
    new_lines[1] = "ligne deux corrigée"  # changed
    del new_lines[15]  # « ligne 16 » removed
    new_lines.append("ligne ajoutée")
    diff = revisions("A", old, "A bis", "\n".join(new_lines), context=1)
    assert diff.title == (Piece(Op.EQUAL, "A"), Piece(Op.INSERT, " bis"))
    assert (diff.added, diff.removed, diff.changed) == (1, 1, 1)
    ops = [(line.op, "".join(p.text for p in line.pieces if p.op is not Op.INSERT)) for line in diff.lines]
    assert ops[:3] == [(Op.EQUAL, "ligne 1"), (None, "ligne 2"), (Op.EQUAL, "ligne 3")]
    assert (Op.DELETE, "ligne 16") in ops
    assert diff.lines[-1] == LineDiff(Op.INSERT, (Piece(Op.INSERT, "ligne ajoutée"),))
    assert len(diff.context_skipped) == 2  # lines 4–14 and 18–19 left out


def test_markup_stays_text() -> None:
    diff = revisions("t", "texte", "t", "texte <script>alert(1)</script>")
    pieces = [p for line in diff.lines for p in line.pieces]
    assert Piece(Op.INSERT, " <script>alert(1)</script>") in pieces or any("<script>" in p.text for p in pieces)
