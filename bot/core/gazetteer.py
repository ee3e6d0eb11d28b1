"""The settlements of Kazakhstan (bot/core/data/gazetteer.json, from GeoNames, CC BY 4.0): their
names in kk/ru/en, the nearest one to a location, and the one a typed name means."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.core.matching import Answers

DATA_FILE = Path(__file__).parent / "data" / "gazetteer.json"
EARTH_RADIUS_KM = 6371.0
# A location further than this from every settlement is not placed (it is probably outside
# the country); the person is asked for the town instead.
PLACE_RADIUS_KM = 100.0
OTHER = "other"


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = math.radians(lat2 - lat1), math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def valid_coordinates(latitude: float, longitude: float) -> bool:
    """A point on Earth: finite, latitude within ±90 and longitude within ±180."""
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


@dataclass(frozen=True)
class Place:
    """A settlement: its key (stored in reports), names, position and size. A place whose
    position is not known (None) is found by name only."""

    key: str
    names: dict[str, str]
    latitude: float | None
    longitude: float | None
    population: int
    main: bool

    def name(self, language: str) -> str:
        """The name in kk, ru or en (English when the language is unknown)."""
        return self.names.get(language) or self.names["en"]


class Gazetteer:
    """Every settlement, the biggest first."""

    def __init__(self, places: list[Place], aliases: dict[str, list[str]]) -> None:
        self.places = {place.key: place for place in places}
        self._answers = Answers(
            {place.key: [*place.names.values(), *aliases.get(place.key, [])] for place in places}
        )

    def get(self, key: str | None) -> Place | None:
        """The place with this key."""
        return self.places.get(key) if key else None

    def main_places(self, language: str) -> list[Place]:
        """The region centres and cities of republican significance, by name."""
        return sorted((p for p in self.places.values() if p.main), key=lambda p: p.name(language))

    def nearest(self, latitude: float, longitude: float) -> tuple[Place, float] | None:
        """The nearest settlement and its distance, if one is within PLACE_RADIUS_KM."""
        if not valid_coordinates(latitude, longitude):
            return None
        distances = [
            (distance_km(latitude, longitude, p.latitude, p.longitude), p)
            for p in self.places.values()
            if p.latitude is not None and p.longitude is not None
        ]
        distance, best = min(distances, key=lambda pair: pair[0])
        return (best, distance) if distance <= PLACE_RADIUS_KM else None

    def find(self, text: str) -> Place | None:
        """The settlement a typed text names (endings, typos and extra words allowed); with two
        candidates, the bigger one."""
        key = self._answers.match(text, first_wins=True)
        return self.places[key] if key else None


@cache
def gazetteer() -> Gazetteer:
    """The gazetteer, loaded once."""
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    places, aliases = [], {}
    for row in document["places"]:
        places.append(
            Place(
                key=row["key"],
                names={"kk": row["kk"], "ru": row["ru"], "en": row["en"]},
                latitude=row["lat"],
                longitude=row["lon"],
                population=row["population"],
                main=row["main"],
            )
        )
        aliases[row["key"]] = row["aliases"]
    return Gazetteer(places, aliases)


def is_city_key(key: str) -> bool:
    """Whether a stored city value (Report.city, button data) names a place: a gazetteer key,
    or OTHER for a town the gazetteer does not know."""
    return key == OTHER or gazetteer().get(key) is not None
