"""The `module` object each package exposes so the app can mount it without knowing its insides."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer
from fastapi import APIRouter

from smartcity.platform.permissions import Permission


@dataclass(frozen=True)
class NavItem:
    """A console navigation entry: a message id for its label and the page it opens."""

    label: str
    path: str
    permission: str


@dataclass(frozen=True)
class Module:
    """What a module contributes: API and console routers, permissions, CLI group, navigation."""

    name: str
    title: str
    permissions: tuple[Permission, ...] = ()
    api: APIRouter | None = None
    pages: APIRouter | None = None
    cli: typer.Typer | None = None
    nav: tuple[NavItem, ...] = field(default_factory=tuple)
    template_dirs: tuple[str, ...] = ()
