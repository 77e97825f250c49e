"""The demo library's patrons, households and staff, generated from a seed (pure, no Django).

:func:`generate` returns a :class:`DemoLibrary` of plain dataclasses; the same seed and day always
give the same library. Campus people (students, faculty, staff, alumni) belong to schools and
carry campus IDs; children only ever arrive with their family, so each has a guardian in a
household; some exchange students, visiting scholars and visitors have English names.
:mod:`libcrm.world.load` writes the result through the registry's services.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from libcrm.world import campus
from libcrm.world.campus import BranchSpec, DepartmentSpec
from libcrm.world.personal_names import (
    PersonalName,
    chinese_name,
    chinese_surname,
    foreign_name,
    latin,
)

# Relative frequency of each category among registration events. A draw of "child" (and some
# draws of "resident") brings a whole family, so the final shares differ a little.
CATEGORY_WEIGHTS: dict[str, int] = {
    "undergraduate": 40,
    "postgraduate": 18,
    "faculty": 8,
    "staff": 5,
    "resident": 12,
    "child": 3,
    "visitor": 3,
    "alumnus": 6,
}
CAMPUS_CATEGORIES = frozenset({"undergraduate", "postgraduate", "faculty", "staff", "alumnus"})

# Published on purpose: every demo staff account shares it (never load the demo in production).
DEMO_PASSWORD = "libcrm-demo-2026"  # noqa: S105

MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)
OPENID_ALPHABET = string.ascii_letters + string.digits + "-_"
# Every openid issued by one official account shares its first characters.
OPENID_PREFIX = "oMdL7"

_NOTES = (
    "偏好夜间到馆，常用24小时自助图书馆",
    "需要无障碍通道和座位",
    "读者协会志愿者",
    "对古籍数字化项目感兴趣，愿意参与用户共创",
    "多次推荐图书采购，关注新书通报",
    "参加过信息素养讲座并反馈良好",
)
_CHILD_NOTES = ("家长陪同借阅，绘本阅读活动常客", "参加暑期少儿阅读挑战")


@dataclass(frozen=True)
class IdentifierSpec:
    kind: str  # a value of libcrm.patrons.identifiers.IdentifierKind
    value: str
    source: str
    verified: bool = False


@dataclass
class PatronSpec:
    """One patron as :func:`libcrm.patrons.services.register_patron` takes them; ``department``
    and ``home_branch`` are codes, ``household`` an index into :attr:`DemoLibrary.households`."""

    name: str
    gender: str
    birth_year: int | None
    category: str
    registered_on: date
    expires_on: date | None = None
    status: str = "active"
    department: str = ""
    discipline: str = ""
    research_specialty: str = ""
    home_branch: str = ""
    address: str = ""
    notes: str = ""
    identifiers: list[IdentifierSpec] = field(default_factory=list)
    household: int | None = None
    household_role: str = ""

    def fields(self) -> dict[str, Any]:
        """The patron's fields as the registry's services take them (codes for branch and
        department)."""
        return {
            "name": self.name,
            "gender": self.gender,
            "birth_year": self.birth_year,
            "category": self.category,
            "department": self.department,
            "discipline": self.discipline,
            "research_specialty": self.research_specialty,
            "home_branch": self.home_branch,
            "registered_on": self.registered_on,
            "expires_on": self.expires_on,
            "status": self.status,
            "address": self.address,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class HouseholdSpec:
    label: str
    address: str


@dataclass(frozen=True)
class StaffSpec:
    username: str
    role: str  # a value of libcrm.staff.roles.Role
    display_name: str
    email: str


STAFF: tuple[StaffSpec, ...] = (
    StaffSpec("admin", "administrator", "周敏", f"admin@{campus.LIBRARY_DOMAIN}"),
    StaffSpec("relations", "user_relations", "陈晓雯", f"relations@{campus.LIBRARY_DOMAIN}"),
    StaffSpec("desk", "front_desk", "刘洋", f"desk@{campus.LIBRARY_DOMAIN}"),
    StaffSpec("liaison", "subject_liaison", "王立新", f"liaison@{campus.LIBRARY_DOMAIN}"),
    StaffSpec("acquisitions", "acquisitions", "赵静", f"acquisitions@{campus.LIBRARY_DOMAIN}"),
    StaffSpec("analyst", "analyst", "孙浩然", f"analyst@{campus.LIBRARY_DOMAIN}"),
)


@dataclass(frozen=True)
class DemoLibrary:
    seed: int
    today: date
    branches: tuple[BranchSpec, ...]
    departments: tuple[DepartmentSpec, ...]
    households: list[HouseholdSpec]
    patrons: list[PatronSpec]
    staff: tuple[StaffSpec, ...]


def generate(patrons: int = 300, seed: int = 42, today: date | None = None) -> DemoLibrary:
    """``patrons`` people of the demo library as registered by ``today`` (default: the real
    today), drawn from ``random.Random(seed)``."""
    if patrons < 0:
        raise ValueError("patrons must not be negative")
    world = _World(random.Random(seed), today or date.today(), patrons)
    people = world.populate(patrons)
    return DemoLibrary(
        seed=seed,
        today=world.today,
        branches=campus.BRANCHES,
        departments=campus.DEPARTMENTS,
        households=world.households,
        patrons=people,
        staff=STAFF,
    )


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


class _World:
    def __init__(self, rng: random.Random, today: date, size: int) -> None:
        self.rng = rng
        self.today = today
        self.households: list[HouseholdSpec] = []
        self._cards = iter(rng.sample(range(10**8, 10**9), size))
        self._campus_serials: dict[str, int] = {}
        self._phones: set[str] = set()
        self._emails: set[str] = set()
        self._openids: set[str] = set()
        self._departments = {d.code: d for d in campus.DEPARTMENTS}
        self._department_index = {d.code: i + 1 for i, d in enumerate(campus.DEPARTMENTS)}
        on_or_after_intake = (today.month, today.day) >= (9, 1)
        self.latest_intake = today.year if on_or_after_intake else today.year - 1

    # -- the population ------------------------------------------------------------------
    def populate(self, size: int) -> list[PatronSpec]:
        people: list[PatronSpec] = []
        categories, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
        while len(people) < size:
            room = size - len(people)
            category = self.rng.choices(categories, weights=weights)[0]
            family_draw = category == "child" or (
                category == "resident" and self.rng.random() < 0.3
            )
            if family_draw and room >= 2:
                people.extend(self.family(room))
                continue
            if category == "child":
                category = "resident"
            people.append(self.person(category))
        return people

    def person(
        self,
        category: str,
        *,
        birth_year: int | None = None,
        gender: str | None = None,
        surname: str | None = None,
    ) -> PatronSpec:
        rng = self.rng
        gender = gender or rng.choices(("female", "male", "undisclosed"), (49, 49, 2))[0]
        foreign_share = {
            "undergraduate": 0.04,
            "postgraduate": 0.05,
            "faculty": 0.08,
            "visitor": 0.3,
        }.get(category, 0.0)
        foreign = surname is None and rng.random() < foreign_share
        draft = getattr(self, f"_{category}")(birth_year)
        if foreign:
            name = foreign_name(rng)
            gender = name.gender
        else:
            name = chinese_name(rng, gender, draft.birth_year, surname=surname)
        draft.name, draft.gender = name.full, gender
        if draft.department:
            school = self._departments[draft.department]
            draft.discipline = school.discipline
            draft.research_specialty = self._specialty(draft, school, foreign)
        draft.home_branch = self._home_branch(draft)
        if draft.status == "active" and category != "child" and rng.random() < 0.03:
            draft.status = "suspended"
            draft.notes = f"逾期未还图书{rng.randint(2, 6)}册，暂停借阅至全部归还"
        elif rng.random() < 0.05:
            notes = _CHILD_NOTES if category == "child" else _NOTES
            draft.notes = "Prefers service in English" if foreign else rng.choice(notes)
        if category in ("undergraduate", "postgraduate") and rng.random() < 0.05:
            draft.address = self._dormitory("foreign" if foreign else category)
        elif rng.random() < (0.3 if category == "resident" else 0.03):
            draft.address = self._home_address()
        draft.identifiers = self._identifiers(draft, name, foreign)
        return draft

    def family(self, room: int) -> list[PatronSpec]:
        """A family that registers together: a parent (resident, or someone from the campus),
        perhaps a partner and a grandparent, and one or two children."""
        rng = self.rng
        year = self.today.year
        father, mother = chinese_surname(rng), chinese_surname(rng)
        head_gender = rng.choice(("male", "female"))
        head_birth = year - rng.randint(31, 47)
        head_category = rng.choices(("resident", "faculty", "staff"), (70, 20, 10))[0]
        head = self.person(
            head_category,
            birth_year=head_birth,
            gender=head_gender,
            surname=father if head_gender == "male" else mother,
        )
        members: list[tuple[PatronSpec, str]] = [(head, "head")]
        children = 2 if rng.random() < 0.3 and room >= 3 else 1
        if room - children - 1 >= 1 and rng.random() < 0.7:
            partner_gender = "female" if head_gender == "male" else "male"
            partner = self.person(
                "resident",
                birth_year=head_birth + rng.randint(-4, 4),
                gender=partner_gender,
                surname=father if partner_gender == "male" else mother,
            )
            members.append((partner, "partner"))
        if room - children - len(members) >= 1 and rng.random() < 0.12:
            elder = self.person("resident", birth_year=head_birth - rng.randint(24, 32))
            members.append((elder, "guardian"))
        for _ in range(children):
            child_birth = rng.randint(max(head_birth + 22, year - 13), year - 3)
            surname = father if rng.random() < 0.9 else mother
            members.append((self.person("child", birth_year=child_birth, surname=surname), "child"))
        address = self._home_address()
        self.households.append(HouseholdSpec(label=f"{head.name}家", address=address))
        index = len(self.households) - 1
        if rng.random() < 0.1 and head.status != "suspended":
            head.notes = "邻里图书馆家庭，书房对邻居开放"
        for member, role in members:
            member.household, member.household_role = index, role
            member.address = ""  # the family's address is the household's
        return [member for member, _ in members]

    # -- categories: birth year, registration and expiry ----------------------------------
    def _undergraduate(self, birth_year: int | None) -> PatronSpec:
        rng = self.rng
        department = self._department()
        years_in = rng.choices((0, 1, 2, 3, 4), (26, 25, 24, 22, 3))[0]
        intake = self.latest_intake - years_in
        length = 5 if self._departments[department].discipline == "medicine" else 4
        born = birth_year or intake - 18 + rng.choice((-1, 0, 0, 0, 1))
        spec = self._registered(
            "undergraduate", born, date(intake, 9, rng.randint(1, 10)), date(intake + length, 7, 15)
        )
        spec.department = department
        self._campus_id(spec, f"{intake}{self._department_index[department]:02d}", 4)
        return spec

    def _postgraduate(self, birth_year: int | None) -> PatronSpec:
        rng = self.rng
        department = self._department()
        doctoral = rng.random() < 0.3
        length = 4 if doctoral else 3
        overrun = 1 if rng.random() < 0.05 else 0  # a thesis that takes a year longer
        intake = self.latest_intake - rng.randint(0, length - 1) - overrun
        age_at_intake = rng.randint(24, 30) if doctoral else rng.randint(21, 25)
        born = birth_year or intake - age_at_intake
        spec = self._registered(
            "postgraduate", born, date(intake, 9, rng.randint(1, 10)), date(intake + length, 6, 30)
        )
        spec.department = department
        prefix = "D" if doctoral else "M"
        self._campus_id(spec, f"{prefix}{intake}{self._department_index[department]:02d}", 3)
        return spec

    def _faculty(self, birth_year: int | None) -> PatronSpec:
        born = birth_year or self.today.year - self.rng.randint(28, 63)
        spec = self._employee("faculty", born, earliest_age=27)
        spec.department = self._department()
        self._campus_id(spec, f"T{self._department_index[spec.department]:02d}", 4)
        return spec

    def _staff(self, birth_year: int | None) -> PatronSpec:
        born = birth_year or self.today.year - self.rng.randint(23, 60)
        spec = self._employee("staff", born, earliest_age=22)
        if self.rng.random() < 0.5:
            spec.department = self._department()
        self._campus_id(spec, "E", 6)
        return spec

    def _alumnus(self, birth_year: int | None) -> PatronSpec:
        rng = self.rng
        graduated = self.today.year - rng.randint(1, 15)
        born = birth_year or graduated - rng.randint(22, 24)
        registered = date(graduated, 7, rng.randint(1, 28))
        expires = add_years(registered, 3)
        if expires < self.today and rng.random() < 0.4:
            expires = add_years(expires, 3 * ((self.today.year - expires.year) // 3 + 1))
        spec = self._registered("alumnus", born, registered, expires)
        spec.department = self._department()
        self._campus_id(spec, f"{graduated - 4}{self._department_index[spec.department]:02d}", 4)
        return spec

    def _resident(self, birth_year: int | None) -> PatronSpec:
        rng = self.rng
        born = birth_year or self.today.year - round(rng.triangular(20, 78, 40))
        earliest = max(date(born + 16, 1, 1), self.today - timedelta(days=8 * 365))
        registered = self._day_between(earliest, self.today)
        expires = add_years(registered, 3)
        while expires < self.today and rng.random() < 0.65:  # renewed at the desk
            expires = add_years(expires, 3)
        return self._registered("resident", born, registered, expires)

    def _child(self, birth_year: int | None) -> PatronSpec:
        born = birth_year or self.today.year - self.rng.randint(3, 13)
        earliest = max(date(born + 3, 1, 1), self.today - timedelta(days=5 * 365))
        registered = self._day_between(min(earliest, self.today), self.today)
        return self._registered("child", born, registered, date(born + 14, 12, 31))

    def _visitor(self, birth_year: int | None) -> PatronSpec:
        born = birth_year or self.today.year - self.rng.randint(18, 70)
        registered = self.today - timedelta(days=self.rng.randint(0, 400))
        expires = registered + timedelta(days=self.rng.choice((30, 90, 180)))
        return self._registered("visitor", born, registered, expires)

    def _employee(self, category: str, born: int, *, earliest_age: int) -> PatronSpec:
        joined = self.rng.randint(
            min(max(born + earliest_age, self.today.year - 30), self.today.year), self.today.year
        )
        registered = self._day_between(date(joined, 1, 1), min(date(joined, 12, 31), self.today))
        return self._registered(category, born, registered, None)

    def _registered(
        self, category: str, born: int, registered: date, expires: date | None
    ) -> PatronSpec:
        registered = min(registered, self.today)
        if expires is not None:
            expires = max(expires, registered)
        status = "expired" if expires is not None and expires < self.today else "active"
        return PatronSpec(
            name="",
            gender="",
            birth_year=born,
            category=category,
            registered_on=registered,
            expires_on=expires,
            status=status,
        )

    # -- attributes -----------------------------------------------------------------------
    def _department(self) -> str:
        codes, weights = zip(*campus.DEPARTMENT_WEIGHTS.items(), strict=True)
        return self.rng.choices(codes, weights=weights)[0]

    def _specialty(self, spec: PatronSpec, school: DepartmentSpec, foreign: bool) -> str:
        rng = self.rng
        if spec.category not in ("faculty", "postgraduate"):
            return ""
        if foreign:
            return rng.choice(campus.ENGLISH_SPECIALTIES)
        count = 2 if spec.category == "faculty" and rng.random() < 0.35 else 1
        chosen = rng.sample(school.specialties, count)
        all_chinese = all(not phrase.isascii() for phrase in chosen)
        return ("、" if all_chinese else "; ").join(chosen)

    def _home_branch(self, spec: PatronSpec) -> str:
        rng = self.rng
        if spec.department:
            school_branch = self._departments[spec.department].branch
            return rng.choices((school_branch, campus.MAIN, campus.SELF_SERVICE), (75, 20, 5))[0]
        options = {
            "child": ((campus.COMMUNITY, campus.MAIN), (70, 30)),
            "resident": ((campus.COMMUNITY, campus.MAIN, campus.SELF_SERVICE), (55, 35, 10)),
            "visitor": ((campus.MAIN, campus.SELF_SERVICE), (80, 20)),
        }
        branches, weights = options.get(spec.category, ((campus.MAIN,), (1,)))
        return rng.choices(branches, weights)[0]

    def _home_address(self) -> str:
        rng = self.rng
        return (
            f"{rng.choice(campus.STREETS)}{rng.randint(1, 300)}号"
            f"{rng.choice(campus.ESTATES)}{rng.randint(1, 30)}栋{rng.randint(1, 4)}单元"
            f"{rng.randint(1, 28)}{rng.randint(1, 4):02d}室"
        )

    def _dormitory(self, kind: str) -> str:
        rng = self.rng
        return (
            f"{rng.choice(campus.DORMITORIES[kind])}{rng.randint(1, 30)}号楼"
            f"{rng.randint(1, 6)}{rng.randint(1, 30):02d}室"
        )

    def _day_between(self, first: date, last: date) -> date:
        if last <= first:
            return last
        return first + timedelta(days=self.rng.randint(0, (last - first).days))

    # -- identifiers ----------------------------------------------------------------------
    def _campus_id(self, spec: PatronSpec, prefix: str, width: int) -> None:
        serial = self._campus_serials.get(prefix, 0) + self.rng.randint(1, 7)
        self._campus_serials[prefix] = serial
        value = f"{prefix}{serial:0{width}d}"
        spec.identifiers.append(IdentifierSpec("campus_id", value, "campus-card", verified=True))

    def _identifiers(
        self, spec: PatronSpec, name: PersonalName, foreign: bool
    ) -> list[IdentifierSpec]:
        rng = self.rng
        card = IdentifierSpec("library_card", f"L{next(self._cards)}", "ils", verified=True)
        found = [card, *spec.identifiers]
        campus_id = next((i.value for i in found if i.kind == "campus_id"), "")
        if spec.category == "child":
            return found
        if rng.random() < (0.95 if spec.category == "visitor" else 0.88):
            verified = rng.random() < 0.7
            found.append(IdentifierSpec("phone", self._phone(), "registration-form", verified))
        email = self._email(spec, name, foreign, campus_id)
        if email:
            found.append(IdentifierSpec("email", email, "registration-form", rng.random() < 0.6))
        wechat_share = 0.6 if spec.category in ("undergraduate", "postgraduate") else 0.35
        if rng.random() < wechat_share:
            found.append(IdentifierSpec("wechat_openid", self._openid(), "wechat", verified=True))
        if spec.category in ("undergraduate", "resident") and rng.random() < 0.05:
            found.append(IdentifierSpec("weibo_id", str(rng.randint(10**9, 10**10 - 1)), "weibo"))
        return found

    def _phone(self) -> str:
        while True:
            phone = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randint(0, 10**8 - 1):08d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def _openid(self) -> str:
        while True:
            tail = "".join(self.rng.choices(OPENID_ALPHABET, k=28 - len(OPENID_PREFIX)))
            openid = OPENID_PREFIX + tail
            if openid not in self._openids:
                self._openids.add(openid)
                return openid

    def _email(self, spec: PatronSpec, name: PersonalName, foreign: bool, campus_id: str) -> str:
        rng = self.rng
        category = spec.category
        if category in ("undergraduate", "postgraduate") and campus_id:
            local, domain = campus_id.lower(), campus.STUDENT_DOMAIN
        elif category in ("faculty", "staff"):
            if name.chinese:  # 王建华 → jhwang
                initials = "".join(latin(ch)[:1] for ch in name.given)
                local = f"{initials}{name.family_latin}"
            else:
                local = f"{name.given_latin}.{name.family_latin}"
            domain = campus.CAMPUS_DOMAIN
        else:
            share = {"alumnus": 0.8, "visitor": 0.7, "resident": 0.45}.get(category, 0.0)
            if rng.random() >= share:
                return ""
            domain = rng.choice(campus.PERSONAL_DOMAINS)
            if domain == "qq.example":
                local = str(rng.randint(10**6, 10**10))
            elif foreign:
                local = f"{name.given_latin}.{name.family_latin}"
            else:
                local = f"{name.family_latin}{name.given_latin}{rng.randint(1, 999)}"
        address = f"{local}@{domain}"
        while address in self._emails:
            address = f"{local}{rng.randint(1, 99)}@{domain}"
        self._emails.add(address)
        return address
