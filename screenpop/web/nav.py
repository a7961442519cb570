"""The navigation every page shows: each slice registers its pages (label, path, the roles that see them) when it
is set up; `web/base.html` lists those the logged-in user's role may open, the current one marked for screen
readers (`aria-current="page"`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from storage.users import Role, User


@dataclass(frozen=True)
class NavItem:
    label: str  # French, as the menu shows it
    path: str
    roles: frozenset[Role]
    order: int = 100  # lower first


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    current: bool


NAV = web.AppKey("nav", list[NavItem])
# where each role's work starts: after a login with no page asked, and at the site's root (default: the desk)
HOMES = web.AppKey("homes", dict[Role, str])
DEFAULT_HOME = "/desk"


def home(app: web.Application, user: User | None) -> str:
    """The page `user`'s role starts on (a supervisor's wallboard, an editor's knowledge base), else the desk."""
    return DEFAULT_HOME if user is None else app.get(HOMES, {}).get(user.role, DEFAULT_HOME)


def register(app: web.Application, *items: NavItem) -> None:
    """Add a slice's pages to the navigation (call from the slice's `setup`)."""
    app.setdefault(NAV, []).extend(items)
    app[NAV].sort(key=lambda i: (i.order, i.label))


def item(label: str, path: str, roles: Iterable[Role], order: int = 100) -> NavItem:
    return NavItem(label, path, frozenset(roles), order)


def navigation(app: web.Application, user: User | None, path: str) -> list[NavLink]:
    """The links `user` may follow; none for an anonymous visitor or when a role sees a single page."""
    if user is None:
        return []
    links = [
        NavLink(i.label, i.path, path == i.path or path.startswith(i.path.rstrip("/") + "/"))
        for i in app.get(NAV, [])
        if user.role in i.roles
    ]
    return links if len(links) > 1 else []
