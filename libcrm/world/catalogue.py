"""The demo library's collection: a few thousand items in Chinese and English, with authors,
valid ISBNs, 中图法 (CLC) classes weighted by what the schools read, and text, audio, video and
image formats — written as a MARC 21 file through :func:`libcrm.catalog.cataloguing.marc21_record`,
the way an ILS exports its catalogue.

Items are numbered like Koha's ``itemnumber`` (one copy per record, the number also being the
record's 001), and ordered pool by pool, most popular first, so that loans can draw a popular
item as a low index of its pool. Pure: no Django.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from libcrm.catalog.cataloguing import marc21_record
from libcrm.catalog.classification import Scheme, parse_class_number
from libcrm.catalog.crosswalk import ItemRecord, Material, RecordFormat
from libcrm.catalog.isbn import isbn13_check_digit
from libcrm.world.personal_names import chinese_name
from libcrm.world.subjects import FICTION_POOLS, POOLS, TITLE_PATTERNS, SubjectPool

FIRST_ITEMNUMBER = 100_001

# (publisher, ISBN prefix without check digit and serial): real prefixes of real publishers.
CHINESE_PUBLISHERS = (
    ("人民邮电出版社", "9787115"), ("清华大学出版社", "9787302"), ("机械工业出版社", "9787111"),
    ("高等教育出版社", "978704"), ("人民文学出版社", "978702"), ("中华书局", "9787101"),
    ("商务印书馆", "9787100"), ("人民卫生出版社", "9787117"), ("北京大学出版社", "9787301"),
    ("科学出版社", "978703"), ("法律出版社", "9787519"), ("外语教学与研究出版社", "9787513"),
    ("接力出版社", "9787544"), ("上海译文出版社", "9787532"),
)  # fmt: skip
ENGLISH_PUBLISHERS = (
    ("Springer", "978303"), ("Cambridge University Press", "978110"),
    ("Oxford University Press", "978019"), ("MIT Press", "978026"), ("O'Reilly Media", "978109"),
    ("Penguin Books", "978014"), ("Routledge", "978036"),
)  # fmt: skip
_ENGLISH_GIVEN = ("James", "Mary", "David", "Sarah", "Michael", "Laura", "Peter", "Anna")
_ENGLISH_FAMILY = ("Smith", "Brown", "Taylor", "Wilson", "Clarke", "Evans", "Hughes", "Wright")
_MATERIALS = {
    "text": Material.TEXT,
    "audio": Material.AUDIO,
    "video": Material.VIDEO,
    "image": Material.IMAGE,
}


@dataclass(frozen=True)
class CatalogueItem:
    itemnumber: int
    pool: int  # index into subjects.POOLS
    clc: str
    title: str
    authors: tuple[str, ...]
    isbn: str
    language: str  # chi | eng
    year: int
    publisher: str
    material: str  # text | audio | video | image

    @property
    def control_number(self) -> str:
        return str(self.itemnumber)

    @property
    def item_type(self) -> str:
        """Koha's itemtype for the format."""
        return {"text": "BK", "audio": "AUD", "video": "DVD", "image": "IMG"}[self.material]


@dataclass(frozen=True)
class Catalogue:
    items: tuple[CatalogueItem, ...]
    pool_start: tuple[int, ...]  # index of each pool's first item
    pool_size: tuple[int, ...]


def catalogue_size(patrons: int) -> int:
    """A collection that grows with the library: 600 items at least, 6,000 at most."""
    return max(600, min(6000, round(patrons * 0.8)))


def build_catalogue(size: int, rng: random.Random, latest_year: int) -> Catalogue:
    total_weight = sum(p.weight for p in POOLS)
    items: list[CatalogueItem] = []
    starts, sizes = [], []
    serials: dict[str, int] = {}
    for index, pool in enumerate(POOLS):
        count = max(5, round(size * pool.weight / total_weight))
        starts.append(len(items))
        sizes.append(count)
        for _ in range(count):
            number = FIRST_ITEMNUMBER + len(items)
            items.append(_item(number, index, pool, rng, latest_year, serials))
    return Catalogue(tuple(items), tuple(starts), tuple(sizes))


def _item(
    number: int,
    index: int,
    pool: SubjectPool,
    rng: random.Random,
    latest_year: int,
    serials: dict[str, int],
) -> CatalogueItem:
    chinese = not pool.topics_en or rng.random() < pool.chinese_share
    kind = "fiction" if pool.code in FICTION_POOLS else "book"
    zh_patterns, en_patterns = TITLE_PATTERNS[kind]
    if chinese:
        title = rng.choice(zh_patterns).format(t=rng.choice(pool.topics_zh))
        publisher, prefix = rng.choice(CHINESE_PUBLISHERS)
        authors = tuple(
            chinese_name(rng, rng.choice(("male", "female")), rng.randint(1940, 1995)).full
            for _ in range(1 if rng.random() < 0.7 else 2)
        )
    else:
        title = rng.choice(en_patterns).format(t=rng.choice(pool.topics_en))
        publisher, prefix = rng.choice(ENGLISH_PUBLISHERS)
        authors = tuple(
            f"{rng.choice(_ENGLISH_FAMILY)}, {rng.choice(_ENGLISH_GIVEN)}"
            for _ in range(1 if rng.random() < 0.75 else 2)
        )
    serials[prefix] = serials.get(prefix, 0) + rng.randint(1, 40)
    body = prefix + f"{serials[prefix]:0{12 - len(prefix)}d}"
    materials = pool.material_weights()
    material = rng.choices(list(materials), weights=list(materials.values()))[0]
    age = min(int(rng.expovariate(1 / 7)), 60)
    return CatalogueItem(
        itemnumber=number,
        pool=index,
        clc=rng.choice(pool.clc),
        title=title,
        authors=authors,
        isbn=body + isbn13_check_digit(body),
        language="chi" if chinese else "eng",
        year=latest_year - age,
        publisher=publisher,
        material=material,
    )


def item_record(item: CatalogueItem) -> ItemRecord:
    pool = POOLS[item.pool]
    heading = pool.heading_zh if item.language == "chi" else pool.heading_en
    return ItemRecord(
        control_number=item.control_number,
        record_format=RecordFormat.MARC21,
        title=item.title,
        authors=item.authors,
        isbns=(item.isbn,),
        language=item.language,
        publication_year=item.year,
        publisher=item.publisher,
        material_type=_MATERIALS[item.material],
        class_numbers=(parse_class_number(Scheme.CLC, item.clc),),
        subjects=(heading,),
    )


#: A record whose leader claims more bytes than it has: the reject a librarian should see.
BROKEN_RECORD = b"00999nam a2200000 i 4500001001200000\x1e\x1d"


def write_marc(catalogue: Catalogue, path: Path, *, broken_record: bool = False) -> int:
    """Write the catalogue as ISO 2709 MARC 21 (UTF-8); returns the number of records written,
    the deliberately broken one included."""
    with path.open("wb") as out:
        for item in catalogue.items:
            out.write(marc21_record(item_record(item)).as_marc())
        if broken_record:
            out.write(BROKEN_RECORD)
    return len(catalogue.items) + int(broken_record)
