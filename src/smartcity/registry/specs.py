"""How persons and legal entities are compared, blocked and trained on (the linkage model's design).

The levels of each comparison are ordered from the strongest agreement down; their weights are not written
here but learnt from the data (see `linkage.py`). Prediction blocking rules skip pairs in which both records
carry a valid identifier: those are decided by the identifier alone.
"""

from __future__ import annotations

from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl

from smartcity.registry.linkage import Spec
from smartcity.registry.vocab import Kind


def _address() -> Any:
    """The same door (town, village, road, number), the same road and number where one side left the town out,
    the same road in the same town; a shared town alone is the town comparison's business."""
    return cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address_key"),
            cll.ExactMatchLevel("address_key").configure(label_for_charts="Same address"),
            cll.ExactMatchLevel("address_door").configure(label_for_charts="Same road and number"),
            cll.ExactMatchLevel("address_street").configure(label_for_charts="Same road"),
            cll.ElseLevel(),
        ],
    )


def _person_comparisons() -> list[Any]:
    return [
        cl.DamerauLevenshteinAtThresholds("id_number", [1, 2]),
        cl.CustomComparison(
            output_column_name="full_name",
            comparison_levels=[
                cll.NullLevel("full_name"),
                cll.ExactMatchLevel("full_name").configure(tf_adjustment_column="full_name"),
                cll.ExactMatchLevel("name_py").configure(label_for_charts="Same pinyin"),
                cll.JaroWinklerLevel("name_py", 0.9),
                cll.ExactMatchLevel("surname").configure(label_for_charts="Same surname"),
                cll.ElseLevel(),
            ],
        ),
        cl.LevenshteinAtThresholds("birth_date", [1, 2]),
        cl.ExactMatch("gender_code"),
        cl.LevenshteinAtThresholds("phone", [1]),
        cl.ExactMatch("town_code").configure(term_frequency_adjustments=True),
        _address(),
    ]


def _entity_comparisons() -> list[Any]:
    return [
        cl.DamerauLevenshteinAtThresholds("code_number", [1, 2]),
        cl.CustomComparison(
            output_column_name="org_name",
            comparison_levels=[
                cll.NullLevel("org_name"),
                cll.ExactMatchLevel("org_name"),
                cll.ExactMatchLevel("name_core").configure(tf_adjustment_column="name_core"),
                cll.JaroWinklerLevel("name_core", 0.92),
                cll.JaroWinklerLevel("name_core", 0.8),
                cll.ElseLevel(),
            ],
        ),
        cl.CustomComparison(
            output_column_name="legal_rep",
            comparison_levels=[
                cll.NullLevel("legal_rep"),
                cll.ExactMatchLevel("legal_rep"),
                cll.ExactMatchLevel("legal_rep_py"),
                cll.ElseLevel(),
            ],
        ),
        cl.LevenshteinAtThresholds("phone", [1]),
        cl.ExactMatch("town_code").configure(term_frequency_adjustments=True),
        _address(),
        cl.ExactMatch("established_date"),
    ]


PERSON = Spec(
    comparisons=_person_comparisons,
    blocking=(
        ("id_number",),
        ("id_head", "surname_py"),
        ("id_tail", "surname_py"),
        ("name_py", "birth_date"),
        ("phone",),
        ("full_name", "address_key"),
        ("surname_py", "address_key"),
        ("name_py", "town_code", "gender_code"),
    ),
    # EM over small blocks: same birth date and town; same ID text; same phone. (Blocking on the name is too
    # coarse for training: common names make hundreds of millions of pairs at a million records.)
    training=(("birth_date", "town_code"), ("id_number",), ("phone",), ("address_key",)),
    deterministic=(
        "l.id_number = r.id_number",
        "l.name_py = r.name_py and l.birth_date = r.birth_date",
        "l.full_name = r.full_name and l.phone = r.phone",
        "l.full_name = r.full_name and l.address_key = r.address_key",
    ),
    recall=0.9,
    unidentified="ident",
)

ENTITY = Spec(
    comparisons=_entity_comparisons,
    blocking=(
        ("code_number",),
        ("org_code",),
        ("name_core",),
        ("phone",),
        ("name_head", "town_code"),
    ),
    training=(("town_code", "name_head"), ("org_code",)),
    deterministic=("l.code_number = r.code_number", "l.name_core = r.name_core and l.town_code = r.town_code"),
    recall=0.9,
    unidentified="ident",
)

SPECS = {Kind.PERSON: PERSON, Kind.ENTITY: ENTITY}
