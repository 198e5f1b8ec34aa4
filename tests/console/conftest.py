"""Console fixtures: the app served by uvicorn on a free local port over its own migrated SQLite file, and Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy import Engine

from smartcity import db as dbmod
from smartcity import migrate
from smartcity.app import create_app
from smartcity.platform.permissions import Role
from tests.factories import make_department, make_entry, make_user
from tests.servers import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class LiveServer:
    """The running console: its base URL, its database and the accounts created in it."""

    url: str
    engine: Engine
    platform_admin: Account
    gaj_admin: Account
    existing_entry_code: str
    existing_entry_name: str


PLATFORM_ADMIN = Account("console-root", "console-root-pass-2026")
GAJ_ADMIN = Account("gaj-console-admin", "gaj-console-pass-2026")
EXISTING_CODE = "330281-GAJ-00001"
EXISTING_NAME = "人口基础信息"


def _seed(engine: Engine) -> None:
    dbmod.configure(engine)
    with dbmod.unit_of_work() as session:
        make_department(session, "GAJ", "余姚市公安局")
        make_department(session, "MZJ", "余姚市民政局")
        make_user(session, PLATFORM_ADMIN.username, Role.PLATFORM_ADMIN, password=PLATFORM_ADMIN.password)
        make_user(session, GAJ_ADMIN.username, Role.DEPT_ADMIN, "GAJ", password=GAJ_ADMIN.password)
        make_entry(session, code=EXISTING_CODE, name=EXISTING_NAME)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """uvicorn serving the whole app in a background thread, over a freshly migrated SQLite file."""
    previous_engine, previous_factory = dbmod._engine, dbmod._factory
    app = create_app()  # also fills the permission registry that the seeding services check
    engine = dbmod.build_engine(f"sqlite:///{tmp_path_factory.mktemp('console') / 'console.db'}")
    migrate.upgrade(engine)
    _seed(engine)

    try:
        with serve(app) as url:
            yield LiveServer(
                url=url,
                engine=engine,
                platform_admin=PLATFORM_ADMIN,
                gaj_admin=GAJ_ADMIN,
                existing_entry_code=EXISTING_CODE,
                existing_entry_name=EXISTING_NAME,
            )
    finally:
        engine.dispose()
        dbmod._engine, dbmod._factory = previous_engine, previous_factory


@pytest.fixture(autouse=True)
def _console_database(live_server: LiveServer) -> None:
    """Other tests point the app's sessions at their rolled-back transaction; the served console needs its own file."""
    dbmod.configure(live_server.engine)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium (no browser download)."""
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test (no cookies), asking for Chinese like a browser in Yuyao would."""
    context = browser.new_context(locale="zh-CN", base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where console tests leave screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
