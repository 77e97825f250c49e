"""Second (and third) registrations of one person: the duplicates identity linkage must find.

A real library holds some people more than once — they registered on the WeChat official
account (微信公众号注册), got a card at the community service point (社区读者证), or opened an
off-campus e-resource account (电子资源校外访问账号). Each such record has identifiers of its own
(the registry refuses to give one identifier to two patrons), and its name, birth year, phone
and e-mail differ the way forms do: a homophone typo, pinyin for 汉字, a changed phone number,
another mailbox, a birth year left out or off by one.

National IDs (居民身份证): library cards outside the campus system are real-name (实名制), so a
desk registration of a resident or visitor and a community card carry the 身份证 number (the
registry keeps a keyed digest). The campus system registers people by 学号/工号 and gives the
library no 身份证 number. Hence only people without a 身份证 on record (campus people) can end
up with a community card of their own: anyone else's would be refused by the registry, which
holds one record per (kind, number), and the service point would find the existing record.
A community card's birth year and gender are derived from the 身份证 number, as library
systems do when a card is issued against it: never left out nor off by one (the name is still
typed by hand). Pure: no Django.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from libcrm.world import campus
from libcrm.world.generate import (
    MOBILE_PREFIXES,
    OPENID_ALPHABET,
    OPENID_PREFIX,
    IdentifierSpec,
    PatronSpec,
    add_years,
)
from libcrm.world.name_variants import is_chinese, name_variant, split_chinese
from libcrm.world.personal_names import latin

WECHAT, COMMUNITY, ERESOURCE = "wechat", "community", "eresource"
DUPLICATE_KINDS: tuple[str, ...] = (WECHAT, COMMUNITY, ERESOURCE)
#: Card prefixes: a WeChat virtual card, a community card, an e-resource account.
CARD_PREFIX = {WECHAT: "W", COMMUNITY: "C", ERESOURCE: "E"}
#: 居民身份证 numbers: districts of the library's city, the weights and check characters of
#: GB 11643 (the registry checks them).
NATIONAL_ID_REGIONS = ("110101", "110102", "110105", "110106", "110108", "110114")
NATIONAL_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
NATIONAL_ID_CHECK = "10X98765432"
#: Who registers at the lending desk with their 身份证 (real-name registration, 实名制): the
#: adults who are not on the campus system. Campus people are registered from the campus
#: system by their 学号/工号; children through a guardian.
DESK_CATEGORIES = ("resident", "visitor")
#: Share of the people with a duplicate who have two (a third record of themselves).
SECOND_DUPLICATE_SHARE = 0.15


@dataclass(frozen=True)
class Duplicate:
    """One extra record of person ``person`` (an index into the people) and how it differs."""

    person: int
    kind: str
    spec: PatronSpec
    name_change: str  # same | typo | pinyin | latin
    birth_year_change: str  # same | missing | off_by_one
    phone_change: str  # none | changed


def duplicate_counts(records: int, share: float) -> tuple[int, int, int]:
    """(people, people with a duplicate, people with two) so that people plus their extra
    records make ``records`` patron records."""
    with_duplicate = round(records * share / (1 + share * (1 + SECOND_DUPLICATE_SHARE)))
    with_two = round(with_duplicate * SECOND_DUPLICATE_SHARE)
    return records - with_duplicate - with_two, with_duplicate, with_two


class FreshIdentifiers:
    """New identifiers that no record holds yet."""

    def __init__(self, people: Sequence[PatronSpec], rng: random.Random) -> None:
        self.rng = rng
        self.taken = {(i.kind, i.value.lower()) for p in people for i in p.identifiers}

    def _fresh(self, kind: str, make: object) -> str:
        while True:
            value = make()  # type: ignore[operator]
            if (kind, value.lower()) not in self.taken:
                self.taken.add((kind, value.lower()))
                return value

    def card(self, prefix: str) -> str:
        return self._fresh("library_card", lambda: f"{prefix}{self.rng.randint(10**8, 10**9 - 1)}")

    def phone(self) -> str:
        rng = self.rng
        return self._fresh(
            "phone", lambda: rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 10**8 - 1):08d}"
        )

    def national_id(self, birth_year: int | None, gender: str) -> str:
        """A 居民身份证 number: region, birth date, sequence (odd for men), check digit."""
        rng = self.rng
        born = birth_year or 1980

        def make() -> str:
            region = rng.choice(NATIONAL_ID_REGIONS)
            day = date(born, 1, 1) + timedelta(days=rng.randint(0, 364))
            sequence = rng.randint(0, 499) * 2 + (1 if gender == "male" else 0)
            body = f"{region}{day:%Y%m%d}{sequence:03d}"
            total = sum(int(d) * w for d, w in zip(body, NATIONAL_ID_WEIGHTS, strict=True))
            return body + NATIONAL_ID_CHECK[total % 11]

        return self._fresh("national_id", make)

    def openid(self) -> str:
        tail = 28 - len(OPENID_PREFIX)
        return self._fresh(
            "wechat_openid",
            lambda: OPENID_PREFIX + "".join(self.rng.choices(OPENID_ALPHABET, k=tail)),
        )

    def email(self, name: str) -> str:
        rng = self.rng
        if is_chinese(name):
            family, given = split_chinese(name)
            parts = (latin(family, surname=True), latin(given))
        else:
            given, _, family = name.partition(" ")
            parts = (latin(family), latin(given))

        def make() -> str:
            domain = rng.choice(campus.PERSONAL_DOMAINS)
            style = rng.random()
            if style < 0.4:
                local = f"{parts[0]}{parts[1]}{rng.randint(1, 9999)}"
            elif style < 0.7:
                local = f"{parts[1]}.{parts[0]}{rng.randint(1, 99)}"
            else:
                local = f"{parts[0]}_{parts[1][:1]}{rng.randint(1970, 2012)}"
            return f"{local}@{domain}"

        return self._fresh("email", make)


def second_registrations(
    people: Sequence[PatronSpec],
    with_duplicate: int,
    with_two: int,
    rng: random.Random,
    today: date,
) -> list[Duplicate]:
    """Extra records for ``with_duplicate`` people (``with_two`` of them get two), chosen among
    those old enough to register on their own."""
    eligible = [i for i, p in enumerate(people) if p.category != "child"]
    chosen = rng.sample(eligible, min(with_duplicate, len(eligible)))
    fresh = FreshIdentifiers(people, rng)
    out: list[Duplicate] = []
    for n, index in enumerate(chosen):
        person = people[index]
        kinds = _kinds_for(person, rng, 2 if n < with_two else 1)
        for kind in kinds:
            out.append(_duplicate(index, person, kind, fresh, rng, today))
    return out


def _kinds_for(person: PatronSpec, rng: random.Random, count: int) -> list[str]:
    weights = {WECHAT: 45, COMMUNITY: 25, ERESOURCE: 30}
    if person.category in ("resident", "visitor"):
        weights[ERESOURCE] = 8
        weights[COMMUNITY] = 45
    if any(i.kind == "national_id" for i in person.identifiers):
        # A community card is issued against the 身份证 (实名制): the registry refuses one
        # already held, so the service point finds the person's record instead of a new one.
        weights[COMMUNITY] = 0
    has_openid = any(i.kind == "wechat_openid" for i in person.identifiers)
    if has_openid:
        weights[WECHAT] = 20  # a second official account (服务号 and 订阅号 issue other openids)
    kinds = list(weights)
    chosen: list[str] = []
    while len(chosen) < count:
        kind = rng.choices(kinds, weights=[weights[k] for k in kinds])[0]
        if kind not in chosen:
            chosen.append(kind)
    return chosen


def _duplicate(
    index: int,
    person: PatronSpec,
    kind: str,
    fresh: FreshIdentifiers,
    rng: random.Random,
    today: date,
) -> Duplicate:
    typo, pinyin = {WECHAT: (0.25, 0.25), COMMUNITY: (0.4, 0.15), ERESOURCE: (0.15, 0.55)}[kind]
    name, name_change = name_variant(person.name, rng, typo=typo, pinyin=pinyin)
    missing = {WECHAT: 0.35, COMMUNITY: 0.4, ERESOURCE: 0.6}[kind]
    birth_year, birth_change = person.birth_year, "same"
    draw = rng.random()
    if draw < missing:
        birth_year, birth_change = None, "missing"
    elif draw < missing + 0.15 and birth_year is not None:
        birth_year, birth_change = birth_year + rng.choice((-1, 1)), "off_by_one"
    gender = person.gender if rng.random() < 0.75 else "undisclosed"
    if kind == COMMUNITY:
        # Issued against the 身份证: the system derives the birth date and the gender from the
        # number (its 7th–14th digits and the parity of the 17th), so neither is left out nor
        # mistyped; the name is still typed by hand.
        birth_year, birth_change, gender = person.birth_year, "same", person.gender
    span = max((today - person.registered_on).days, 0)
    registered = person.registered_on + timedelta(days=rng.randint(0, span))
    identifiers = [
        IdentifierSpec("library_card", fresh.card(CARD_PREFIX[kind]), kind, verified=True)
    ]
    phone_change = "none"
    phone_share = {WECHAT: 0.7, COMMUNITY: 0.45, ERESOURCE: 0.2}[kind]
    if rng.random() < phone_share:
        identifiers.append(IdentifierSpec("phone", fresh.phone(), f"{kind}-registration"))
        phone_change = "changed"
    if kind == WECHAT:
        identifiers.append(IdentifierSpec("wechat_openid", fresh.openid(), "wechat", True))
    if kind == COMMUNITY:  # issued against the 身份证, which the campus record does not hold
        number = fresh.national_id(person.birth_year, person.gender)
        identifiers.append(IdentifierSpec("national_id", number, "community-desk", True))
    email_share = {WECHAT: 0.2, COMMUNITY: 0.1, ERESOURCE: 1.0}[kind]
    if rng.random() < email_share:
        identifiers.append(IdentifierSpec("email", fresh.email(person.name), kind))
    expires: date | None = None
    category, department, branch = person.category, person.department, person.home_branch
    if kind == COMMUNITY:
        category, department, branch = "resident", "", campus.COMMUNITY
        expires = add_years(registered, 3)
    elif kind == ERESOURCE:
        expires = add_years(registered, 1)
        while expires < today and rng.random() < 0.6:
            expires = add_years(expires, 1)
    elif rng.random() < 0.4:
        department, branch = "", ""
    spec = replace(
        person,
        name=name,
        gender=gender,
        birth_year=birth_year,
        category=category,
        department=department,
        discipline=person.discipline if department else "",
        research_specialty="",
        home_branch=branch,
        registered_on=registered,
        expires_on=expires,
        status="expired" if expires is not None and expires < today else "active",
        address="",
        notes="",
        identifiers=identifiers,
        household=None,
        household_role="",
    )
    return Duplicate(index, kind, spec, name_change, birth_change, phone_change)
