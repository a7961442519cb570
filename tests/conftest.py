"""Fixtures shared by the integration and browser tests: a real Asterisk 22 (sid chroot) for the whole session.

If the rig cannot be built or started the fixture raises, so every test that uses it errors:
the integration suite never skips silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.rig.asterisk import AsteriskRig


@pytest.fixture(scope="session")
def asterisk_rig() -> Iterator[AsteriskRig]:
    """One running Asterisk for the session (sync fixture: usable from any test's event loop)."""
    rig = AsteriskRig()
    rig.start()
    try:
        yield rig
    finally:
        rig.stop()


@pytest.fixture(autouse=True)
async def fresh_queue(request: pytest.FixtureRequest) -> None:
    """Tests that use the rig start with an empty queue and no call up: members outlive the services
    that added them (by design: the fail-safe), so an earlier test's advisors would otherwise answer."""
    if "asterisk_rig" not in request.fixturenames:
        return
    from tests.integration.harness import Driver

    driver = await Driver.connect(request.getfixturevalue("asterisk_rig"))  # clears on connect
    await driver.close()


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Callable[[str], None]:
    """Print a line in the test run's output even when output is captured (figures the issues ask to print)."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    return write
