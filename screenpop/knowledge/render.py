"""Articles' Markdown to safe HTML, pure: a maintained parser (markdown-it-py, CommonMark) then a maintained
sanitiser (nh3, the Python binding of the Rust crate ammonia).

Two layers, each enough on its own for the usual attacks: the parser runs with raw HTML off (an editor's
`<script>` comes out as text) and refuses `javascript:`/`vbscript:`/`data:` link targets; the sanitiser then keeps
only the tags and attributes listed here, links only to http(s), mailto and tel, and adds `rel="noopener
noreferrer"`. No `style`, no `on…` attribute, no image, no iframe survive. Headings move down one level (an
article's « # » is an `<h2>`: the page's `<h1>` is its own).
"""

from __future__ import annotations

from functools import cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "abbr", "sup", "sub",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "ol": {"start"}, "th": {"scope"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
MAX_SOURCE = 2_000_000  # characters rendered at most (the database's bound on a body)


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


def _tokens(source: str) -> list[Token]:
    tokens = _parser().parse(source[:MAX_SOURCE])
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return tokens


def to_html(source: str) -> str:
    """Markdown → sanitised HTML, safe to insert in a page as is."""
    rendered = _parser().renderer.render(_tokens(source), _parser().options, {})
    return sanitise(rendered)


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and link schemes (anything else removed, scripts with their text)."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def to_text(source: str) -> str:
    """Markdown → plain text (what search indexes and snippets show): one line per block, no markup."""
    lines: list[str] = []
    for token in _tokens(source):
        if token.type == "inline":
            parts = [
                c.content if c.type in ("text", "code_inline") else " "
                for c in token.children or ()
                if c.type in ("text", "code_inline", "softbreak", "hardbreak")
            ]
            line = " ".join("".join(parts).split())
            if line:
                lines.append(line)
        elif token.type in ("code_block", "fence"):
            lines.append(token.content.strip())
    return "\n".join(lines)
