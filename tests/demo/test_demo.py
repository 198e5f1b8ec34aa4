"""The Yuyao demo: real departments and towns, a catalogue of 200+ entries loaded through the services."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartcity.catalog.models import CatalogEntry
from smartcity.demo import load
from smartcity.demo.departments import DEPARTMENTS
from smartcity.platform.audit import service as audit
from smartcity.platform.identity.models import Department

ROOT = Path(__file__).resolve().parents[2]


def test_seed_is_realistic() -> None:
    towns = [d for d in DEPARTMENTS if d.kind == "town"]
    assert len(towns) == 21
    assert {t.short_name for t in towns} >= {"阳明街道", "梨洲街道", "泗门镇", "四明山镇", "鹿亭乡"}
    assert all(t.division_code and t.division_code.startswith("330281") for t in towns)
    named_in_plan = {
        "市经济和信息化局",
        "市公安局",
        "市卫生和计划生育局",
        "市人力资源和社会保障局",
        "市市场监督管理局",
        "市规划局",
        "市民政局",
    }
    assert named_in_plan <= {d.short_name for d in DEPARTMENTS}


def test_demo_loads_through_the_services_and_is_idempotent(db: Session) -> None:
    first = load.load_demo()
    assert first.entries_created >= 200
    providers = db.scalar(select(func.count(func.distinct(CatalogEntry.department_id))))
    assert providers is not None and providers >= 50
    assert db.scalar(select(func.count()).select_from(Department)) == len(DEPARTMENTS)
    again = load.load_demo()
    assert again.entries_created == 0
    assert audit.verify(db).ok
    population = db.scalars(select(CatalogEntry).where(CatalogEntry.search_text.contains("人口"))).all()
    assert population, "a search for 人口 finds nothing in the demo catalogue"


def test_command_line_bootstrap_as_make_run_does_it(tmp_path: Path) -> None:
    env = {**os.environ, "SMARTCITY_DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}

    def smartcity(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "smartcity.cli", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    smartcity("db", "upgrade")
    created = re.search(r"(\d+) catalogue entries created", smartcity("demo", "load"))
    assert created and int(created.group(1)) >= 200
    assert "0 catalogue entries created" in smartcity("demo", "load")
    assert "intact" in smartcity("audit", "verify")


def test_user_create_refuses_a_taken_username(tmp_path: Path) -> None:
    env = {**os.environ, "SMARTCITY_DATABASE_URL": f"sqlite:///{tmp_path / 'users.db'}"}
    cli = [sys.executable, "-m", "smartcity.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True, timeout=120)
    create = [*cli, "user", "create", "ops_admin", "--role", "platform_admin", "--name", "运维管理员"]
    first = subprocess.run(
        create, env=env, cwd=ROOT, input="long-enough-password\n", capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stdout + first.stderr
    again = subprocess.run(
        create, env=env, cwd=ROOT, input="long-enough-password\n", capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 2 and "taken" in again.stdout
    weak = subprocess.run(
        [*cli, "user", "create", "weak", "--role", "auditor", "--name", "x"],
        env=env,
        cwd=ROOT,
        input="short\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert weak.returncode == 2 and "password" in weak.stdout
