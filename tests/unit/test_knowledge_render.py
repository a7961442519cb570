"""Articles' Markdown rendered by markdown-it-py and cleaned by nh3: nothing an editor writes runs in a page."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from screenpop.knowledge.render import sanitise, to_html, to_text

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    "[clic](  javascript:alert(1))",
    "[clic](vbscript:msgbox(1))",
    "[clic](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">clic</a>',
    '<p onclick="alert(1)">texte</p>',
    "<svg onload=alert(1)>",
    '<iframe src="https://exemple.fr"></iframe>',
    "<style>body{display:none}</style>",
    '![image](https://exemple.fr/x.png "onerror=alert(1)")',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '[clic](https://exemple.fr "x\\" onmouseover=\\"alert(1)")',
]


class Elements(HTMLParser):
    """The tags and attributes a browser would build from the HTML (text content aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    parser.close()
    return parser


def assert_inert(html: str) -> None:
    found = elements(html)
    assert not {"script", "style", "img", "svg", "iframe", "form", "input", "object", "embed"} & set(found.tags)
    for name, value in found.attributes:
        assert not name.startswith("on"), (name, value)
        assert name in ("href", "title", "rel", "start", "scope"), name
        if name == "href":
            assert value.split(":")[0].lower() in ("http", "https", "mailto", "tel"), value


@pytest.mark.parametrize("source", ATTACKS)
def test_nothing_executable_survives_rendering(source: str) -> None:
    html = to_html(source)
    assert_inert(html)
    assert "<script" not in html.lower()


@pytest.mark.parametrize(
    "html",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JAVASCRIPT:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<p onclick="alert(1)" onmouseover="alert(2)">x</p>',
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<form action="https://x"><input name="a"></form>',
        '<a href="https://ok.fr" target="_blank" onfocus="x()">ok</a>',
    ],
)
def test_the_sanitiser_alone_removes_scripts_links_and_event_attributes(html: str) -> None:
    assert_inert(sanitise(html))
    cleaned = sanitise(html).lower()
    assert "script" not in cleaned
    assert "javascript" not in cleaned and "data:" not in cleaned
    assert " on" not in cleaned  # no event attribute
    assert "<img" not in cleaned and "<form" not in cleaned and "<input" not in cleaned


def test_safe_markdown_is_kept() -> None:
    html = to_html(
        "# Le RSA\n\nDu **gras**, de l'*italique*, un [lien](https://www.pasdecalais.fr/) et un "
        "[numéro](tel:+33321000000).\n\n- un\n- deux\n\n| Gir | Montant |\n|---|---|\n| 1 | 1 742,34 € |\n\n> À noter"
    )
    assert "<h2>Le RSA</h2>" in html  # headings one level down: the page's h1 is its own
    assert "<strong>gras</strong>" in html and "<em>italique</em>" in html
    assert '<a href="https://www.pasdecalais.fr/" rel="noopener noreferrer">lien</a>' in html
    assert 'href="tel:+33321000000"' in html
    assert "<li>deux</li>" in html and "<td>1 742,34 €</td>" in html and "<blockquote>" in html


def test_plain_text() -> None:
    assert to_text("## Titre\n\nDu **gras** et [un lien](https://x.fr)\nsur deux lignes\n\n- a\n- b") == (
        "Titre\nDu gras et un lien sur deux lignes\na\nb"
    )
