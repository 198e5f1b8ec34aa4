"""The `module` object each package exposes so the app can mount it without knowing its insides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import typer
from fastapi import APIRouter

from smartcity.platform.events import Reaction
from smartcity.platform.jobs.service import JobKind, PeriodicTask
from smartcity.platform.permissions import Permission


@dataclass(frozen=True)
class NavItem:
    """A console navigation entry: a message id for its label and the page it opens."""

    label: str
    path: str
    permission: str


@dataclass(frozen=True)
class Module:
    """What a module contributes: API and console routers, permissions, CLI group, navigation, background jobs.

    `reactions` run as background jobs when the events they name are published (`platform/events.py`).
    `cli` is added to the `smartcity` command as the group `cli_name` (default: the module's name); `commands`
    are added as top-level commands. `streamed_uploads` are regular expressions of paths whose handlers read
    large request bodies as a stream and enforce their own size limit (the general body limit does not apply).
    """

    name: str
    title: str
    permissions: tuple[Permission, ...] = ()
    api: APIRouter | None = None
    pages: APIRouter | None = None
    cli: typer.Typer | None = None
    cli_name: str | None = None
    commands: tuple[Callable[..., None], ...] = ()
    nav: tuple[NavItem, ...] = field(default_factory=tuple)
    template_dirs: tuple[str, ...] = ()
    jobs: tuple[JobKind, ...] = ()
    periodic: tuple[PeriodicTask, ...] = ()
    reactions: tuple[Reaction, ...] = ()  # what the module does when another module publishes an event
    streamed_uploads: tuple[str, ...] = ()
