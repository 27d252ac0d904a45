"""HTML through Jinja2 templates (_util/templates/*.html.j2) with autoescape always on: data is never markup."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: autoescape on for every template, undefined names are errors."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    return env


def render(name: str, **context) -> str:
    """Render template `name` (under _util/templates) with context; every value is HTML-escaped unless it is
    markupsafe.Markup."""
    return environment().get_template(name).render(**context)
