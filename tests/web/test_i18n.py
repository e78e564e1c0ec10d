"""Translations: every string of the desk has a Vietnamese translation, with the same
placeholders, and the compiled catalog matches its source."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
PO = WEB / "translations" / "vi" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# Msgids that read the same in Vietnamese.
SAME = {"E-mail"}


def extracted() -> set[str]:
    with (WEB / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    ids: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={"_": None, "gettext": None, "_l": None, "ngettext": (1, 2)},
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def catalog():  # type: ignore[no-untyped-def]
    with PO.open("rb") as f:
        return read_po(f, locale="vi")


def test_every_string_is_translated() -> None:
    cat = catalog()
    translated = {m.id: m.string for m in cat if m.id}
    missing = sorted(i for i in extracted() if not translated.get(i))
    assert not missing, f"translate these in {PO}: {missing}"
    fuzzy = [m.id for m in cat if m.id and m.fuzzy]
    assert not fuzzy
    untranslated_copies = [i for i, s in translated.items() if i == s and i not in SAME]
    assert not untranslated_copies


def test_placeholders_match() -> None:
    problems = [(m.id, errors) for m, errors in catalog().check() if errors]
    assert not problems


def test_compiled_catalog_is_up_to_date() -> None:
    # Compare what the catalogs say, not their bytes: another Babel version may lay out the
    # same .mo differently.
    with MO.open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    source = {m.id: m.string for m in catalog() if m.id and m.string}
    assert compiled == source, "run: pybabel compile -d web/translations"
