"""Matching addresses against a standard address registry (标准地址库), down to the finest level the text allows.

An address matches "exact" when its town, road and door number are in the registry (or, without a town, when the
road and number occur in one town only); otherwise it falls back to the road ("road": the road's lowest door in that
town), the village or community ("village"), the town seat ("town"), or nothing ("none").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from smartcity.registry.address.parse import ParsedAddress, parse_address, standard_town, standard_village

_AMBIGUOUS = -1


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """The registry entry an address matched, and how precisely: exact, road, village, town or none."""

    code: str | None
    level: str
    text: str | None
    lon: float | None
    lat: float | None


NO_MATCH = AddressMatch(code=None, level="none", text=None, lon=None, lat=None)


def _village_stem(name: str) -> str:
    """A village's name without 村/社区, so 塘头村, 塘头村委会 and 塘头社区 of one town are the same place."""
    return standard_village(name).removesuffix("村").removesuffix("社区")


def _unique(index: dict[str, int], key: str, row: int) -> None:
    """Record `row` under `key`, or mark the key ambiguous when another row already holds it."""
    index[key] = row if index.get(key, row) == row else _AMBIGUOUS


class AddressIndex:
    """An in-memory index of a registry frame (columns code, town, village, road, number, text, lon, lat)."""

    def __init__(self, frame: pl.DataFrame, *, villages: pl.DataFrame | None = None, towns: pl.DataFrame | None = None):
        """Index `frame`; village and town points come from `villages`/`towns`, else from their addresses' centre."""
        frame = frame.sort("town", "road", "number")
        self._code: list[str] = frame["code"].to_list()
        self._text: list[str] = frame["text"].to_list()
        self._lon: list[float] = frame["lon"].to_list()
        self._lat: list[float] = frame["lat"].to_list()
        town = [standard_town(t) for t in frame["town"].to_list()]
        self._town_of = town
        road: list[str] = frame["road"].to_list()
        number = [str(n) for n in frame["number"].to_list()]
        self._exact: dict[tuple[str, str, str], int] = {}
        self._city_exact: dict[str, int] = {}
        self._road: dict[tuple[str, str], int] = {}
        self._city_road: dict[str, int] = {}
        for row, (t, r, n) in enumerate(zip(town, road, number, strict=True)):
            self._exact[(t, r, n)] = row
            _unique(self._city_exact, f"{r}|{n}", row)
            if (t, r) not in self._road:  # rows are sorted, so the first is the road's lowest door
                self._road[(t, r)] = row
                _unique(self._city_road, r, row)

        if villages is None:
            placed = frame if "village" in frame.columns else frame.with_columns(village=pl.lit(None, pl.String))
            villages = (
                placed.filter(pl.col("village").is_not_null())
                .group_by("town", "village")
                .agg(pl.col("lon").mean(), pl.col("lat").mean())
            )
        self._village: dict[tuple[str, str], tuple[str, str, float, float]] = {}
        self._city_village: dict[str, tuple[str, str, float, float] | None] = {}
        for t, v, lon, lat in villages.select("town", "village", "lon", "lat").iter_rows():
            town_name, stem = standard_town(t), _village_stem(v)
            self._village[(town_name, stem)] = (town_name, v, lon, lat)
            self._city_village[stem] = None if stem in self._city_village else (town_name, v, lon, lat)

        if towns is None:
            towns = frame.group_by("town").agg(pl.col("lon").mean(), pl.col("lat").mean())
        self._town: dict[str, tuple[float, float]] = {
            standard_town(t): (lon, lat) for t, lon, lat in towns.select("town", "lon", "lat").iter_rows()
        }
        # The province, city and district the registry lies in, as its own texts write them.
        sample = parse_address(self._text[0]) if self._text else ParsedAddress()
        self._region = (sample.province, sample.city, sample.district)
        self._exact_matches: dict[int, AddressMatch] = {}

    def __len__(self) -> int:
        """The number of door addresses in the index."""
        return len(self._code)

    def _in_region(self, parsed: ParsedAddress) -> bool:
        given = (parsed.province, parsed.city, parsed.district)
        return all(g is None or g == r for g, r in zip(given, self._region, strict=True))

    def _text_of(self, town: str, village: str | None = None, road: str | None = None) -> str:
        province, city, district = self._region
        place = ParsedAddress(province=province, city=city, district=district, town=town, village=village, road=road)
        return place.standard()

    def _exact_match(self, row: int) -> AddressMatch:
        found = self._exact_matches.get(row)
        if found is None:
            found = AddressMatch(self._code[row], "exact", self._text[row], self._lon[row], self._lat[row])
            self._exact_matches[row] = found
        return found

    def match(self, parsed: ParsedAddress) -> AddressMatch:
        """The registry entry for a parsed address, at the finest level the address and the registry share."""
        if not self._in_region(parsed):
            return NO_MATCH
        town, road, number = parsed.town, parsed.road, parsed.number
        village = None
        if parsed.village is not None:
            stem = _village_stem(parsed.village)
            village = self._village.get((town, stem)) if town is not None else self._city_village.get(stem)
            if town is None and village is not None:
                town = village[0]
        if town is not None and town not in self._town:
            return NO_MATCH

        if road is not None and number is not None:
            row = self._exact.get((town, road, number)) if town else self._city_exact.get(f"{road}|{number}")
            if row is not None and row != _AMBIGUOUS:
                return self._exact_match(row)
        if road is not None:
            row = self._road.get((town, road)) if town else self._city_road.get(road)
            if row is not None and row != _AMBIGUOUS:
                road_town = town or self._town_of[row]
                return AddressMatch(None, "road", self._text_of(road_town, road=road), self._lon[row], self._lat[row])
        if village is not None:
            v_town, v_name, lon, lat = village
            return AddressMatch(None, "village", self._text_of(v_town, village=v_name), lon, lat)
        if town is not None:
            lon, lat = self._town[town]
            return AddressMatch(None, "town", self._text_of(town), lon, lat)
        return NO_MATCH

    def match_text(self, text: str | None) -> AddressMatch:
        """Parse and match one address text; None and empty text match nothing."""
        return self.match(parse_address(text)) if text else NO_MATCH

    def match_many(self, texts: Sequence[str | None]) -> list[AddressMatch]:
        """Match many address texts, parsing each distinct text once."""
        done: dict[str | None, AddressMatch] = {None: NO_MATCH, "": NO_MATCH}
        results: list[AddressMatch] = []
        append = results.append
        for text in texts:
            found = done.get(text)
            if found is None:
                found = done[text] = self.match_text(text)
            append(found)
        return results
