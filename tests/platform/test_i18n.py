"""Message catalogues: every string in the code and templates has a zh-CN translation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from smartcity.platform.i18n import LOCALE_DIR, gettext, negotiate, translator

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_in_the_source_is_translated_to_chinese(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "gettext:2",
            "-o",
            str(pot),
            "--no-location",
            str(ROOT / "src"),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id}
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        translated = {m.id for m in read_po(handle) if m.id and m.string}
    assert len(wanted) > 150
    assert sorted(wanted - translated) == []


def test_placeholders_survive_translation() -> None:
    with (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    import string

    for message in catalogue:
        if not message.id or not message.string:
            continue
        names = {f for _, f, _, _ in string.Formatter().parse(str(message.id)) if f}
        translated = {f for _, f, _, _ in string.Formatter().parse(str(message.string)) if f}
        assert names == translated, message.id


def test_translation_and_negotiation() -> None:
    assert gettext("zh_CN", "Resource catalogue") == "资源目录"
    assert gettext("en", "Resource catalogue") == "Resource catalogue"
    assert translator("zh_CN")("Welcome, {name}", name="张三") == "欢迎，张三"
    assert negotiate(None, "en-US,en;q=0.9", "zh_CN") == "en"
    assert negotiate("en", "zh-CN", "zh_CN") == "en"
    assert negotiate(None, "fr-FR, de;q=0.5", "zh_CN") == "zh_CN"
    assert negotiate("xx-bogus", None, "zh_CN") == "zh_CN"
