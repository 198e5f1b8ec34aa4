"""Masking of personal fields for people who may see a record but not these fields in full."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartcity.platform.masking import mask_address, mask_name, mask_phone, mask_resident_id


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("330281198001011234", "330281********1234"),
        ("33028119800101123X", "330281********123X"),
        (" 330281198001011234 ", "330281********1234"),
        ("330281800101123", "330**********23"),
        ("1234", "1**4"),
        ("12", "**"),
    ],
)
def test_mask_resident_id(value: str, masked: str) -> None:
    assert mask_resident_id(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳小明", "欧**明"),
        ("张", "*"),
        ("John Smith", "J*********"),
        ("买买提·艾力", "买****力"),
    ],
)
def test_mask_name(value: str, masked: str) -> None:
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 13812345678", "+86 138****5678"),
        ("0574-62345678", "0574-****5678"),
        ("057462345678", "0574****5678"),
        ("010-12345678", "010-****5678"),
        ("0574-62345678-801", "0574-****5678-801"),
        ("62345678", "****5678"),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("浙江省宁波市余姚市阳明街道新建北路12号3幢501室", "浙江省宁波市余姚市阳明街道****"),
        ("浙江省宁波市余姚市三七市镇五星村12号", "浙江省宁波市余姚市三七市镇****"),
        ("余姚市四明山镇四明西路8号", "余姚市四明山镇****"),
        ("余姚市鹿亭乡鹿鸣村", "余姚市鹿亭乡****"),
        ("浙江省宁波市镇海区招宝山街道城河西路1号", "浙江省宁波市镇海区招宝山街道****"),
        ("江苏省镇江市京口区中山东路1号", "江苏省镇江市京口区****"),
        ("浙江省宁波市余姚市新建北路12号", "浙江省宁波市余姚市****"),
        ("余姚市阳光小区3幢501室", "余姚市****"),
        ("余姚市城乡路3号", "余姚市****"),
        ("新建北路12号", "****"),
        ("浙江省宁波市余姚市阳明街道", "浙江省宁波市余姚市阳明街道"),
    ],
)
def test_mask_address(value: str, masked: str) -> None:
    assert mask_address(value) == masked


@pytest.mark.parametrize("mask", [mask_resident_id, mask_name, mask_phone, mask_address])
def test_none_and_empty(mask: Callable[[str | None], str | None]) -> None:
    assert mask(None) is None
    assert mask("") == ""


@settings(max_examples=500)
@given(st.text("0123456789", min_size=17, max_size=17), st.sampled_from(list("0123456789X")))
def test_masked_resident_id_hides_the_birth_date_and_sequence(body: str, check: str) -> None:
    value = body + check
    masked = mask_resident_id(value)
    assert masked is not None and len(masked) == 18
    assert value[6:14] not in masked
    assert masked[6:14] == "********"


@settings(max_examples=500)
@given(st.text("0123456789X", max_size=30).filter(lambda v: len(v) != 18))
def test_a_resident_id_of_another_length_shows_at_most_half(value: str) -> None:
    masked = mask_resident_id(value)
    assert masked is not None and len(masked) == len(value)
    assert len(masked) - masked.count("*") <= len(value) // 2
