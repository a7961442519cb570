"""`gps-admin knowledge` and `users add --role editor` as an operator runs them: the real console script."""

from __future__ import annotations

import gzip
from pathlib import Path

import asyncpg

from screenpop.knowledge.imports import SUBSET
from tests.fixtures_db import fresh_database
from tests.integration.test_users_cli import PASSWORD, gps_admin

__all__ = ["fresh_database"]


async def test_fiches_articles_and_editors_from_the_command_line(fresh_database: str, tmp_path: Path) -> None:
    db = fresh_database
    code, _, err = await gps_admin(db, "migrate")
    assert code == 0, err
    with gzip.open(SUBSET, "rb") as f:
        lines = [line for _, line in zip(range(30), f, strict=False)]
    broken = tmp_path / "fiches.jsonl"
    broken.write_bytes(b"".join(lines[:10]) + b"{broken\n" + b"".join(lines[10:]))
    code, out, err = await gps_admin(db, "knowledge", "import-fiches", str(broken))
    assert code == 2
    assert "1 malformed line(s) in fiches.jsonl: nothing imported" in err and "line 11: not JSON" in err
    conn = await asyncpg.connect(db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM knowledge_articles") == 0
        code, out, err = await gps_admin(db, "knowledge", "import-fiches", str(broken), "--skip-malformed")
        assert code == 0, err
        assert "30 fiches (file of " in out and "30 created" in out and "1 malformed line(s) skipped" in out
        assert "written 30/30" in err  # progress
        code, out, err = await gps_admin(db, "knowledge", "search", "allocation")
        assert code == 0, err
        assert "result(s)" in out
        # an editor needs the service they write for
        code, _, err = await gps_admin(db, "services", "add", "--name", "Action sociale — RSA", "--extension", "2004")
        assert code == 0, err
        code, _, err = await gps_admin(
            db, "users", "add", "--login", "elise", "--name", "Élise", "--role", "editor", "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert code == 2 and "editor needs the service" in err
        code, out, err = await gps_admin(
            db, "users", "add", "--login", "elise", "--name", "Élise", "--role", "editor",
            "--service", "Action sociale — RSA", "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert code == 0, err
        assert await conn.fetchval("SELECT service_id FROM users WHERE login = 'elise'") is not None
        # local articles: refused as a whole, then imported, exported
        article = tmp_path / "rsa.md"
        article.write_text(
            "---\ntitle: Le RSA dans le Pas-de-Calais\nservice: Action sociale — RSA\nreview_by: 2027-06-30\n"
            "status: published\ntopics: [social_aid/rsa]\n---\nÀ la Caf ou en MDS.\n",
            "utf-8",
        )
        wrong = tmp_path / "wrong.md"
        wrong.write_text("pas de front matter", "utf-8")
        code, _, err = await gps_admin(db, "knowledge", "import", str(tmp_path))
        assert code == 2 and "wrong.md: no front matter" in err
        assert await conn.fetchval("SELECT count(*) FROM knowledge_articles WHERE kind = 'local'") == 0
        wrong.unlink()
        code, out, err = await gps_admin(db, "knowledge", "import", str(tmp_path), "--check")
        assert (code, out.strip()) == (0, "check only: 1 to create, 0 to update, 0 unchanged"), err
        code, out, err = await gps_admin(db, "knowledge", "import", str(tmp_path))
        assert (code, out.strip()) == (0, "1 created, 0 updated, 0 unchanged"), err
        code, out, err = await gps_admin(db, "knowledge", "export", str(tmp_path / "export.zip"))
        assert (code, out.strip()) == (0, f"1 article(s) exported to {tmp_path / 'export.zip'}"), err
    finally:
        await conn.close()
