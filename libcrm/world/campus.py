"""The demo library's institution: 明德大学图书馆 (Mingde University Library), its branches and the
schools (院系) it serves, each with its discipline category and its researchers' specialties.

Plain data, no Django: :mod:`libcrm.world.generate` draws people from it and
:mod:`libcrm.world.load` writes it to the registry.
"""

from __future__ import annotations

from dataclasses import dataclass

UNIVERSITY_ZH = "明德大学"
UNIVERSITY_EN = "Mingde University"
# Every demo e-mail address lives under the reserved .example top-level domain (RFC 2606), so
# outreach tried out on demo data can never reach a real mailbox.
CAMPUS_DOMAIN = "mingde.edu.example"
STUDENT_DOMAIN = f"stu.{CAMPUS_DOMAIN}"
LIBRARY_DOMAIN = f"lib.{CAMPUS_DOMAIN}"
PERSONAL_DOMAINS = ("qq.example", "163.example", "126.example", "outlook.example")


@dataclass(frozen=True)
class BranchSpec:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name_zh: str
    name_en: str
    discipline: str  # a value of libcrm.patrons.models.Discipline
    branch: str  # the branch holding the school's collection: its people's usual home branch
    specialties: tuple[str, ...]


MAIN, SCIENCE, MEDICAL, SELF_SERVICE, COMMUNITY = "main", "sci", "med", "24h", "community"

BRANCHES: tuple[BranchSpec, ...] = (
    BranchSpec(MAIN, "总馆", "Main Library"),
    BranchSpec(SCIENCE, "理工分馆", "Science & Engineering Branch"),
    BranchSpec(MEDICAL, "医学分馆", "Medical Branch"),
    BranchSpec(SELF_SERVICE, "24小时自助图书馆", "24-hour Self-service Library"),
    BranchSpec(COMMUNITY, "学府社区服务点", "Xuefu Community Service Point"),
)

DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec(
        "cs",
        "计算机学院",
        "School of Computer Science",
        "engineering",
        SCIENCE,
        (
            "机器学习",
            "自然语言处理",
            "计算机视觉",
            "分布式系统",
            "信息检索",
            "数据库系统",
            "Software engineering",
            "Human-computer interaction",
        ),
    ),
    DepartmentSpec(
        "mse",
        "材料科学与工程学院",
        "School of Materials Science and Engineering",
        "engineering",
        SCIENCE,
        ("纳米材料", "新能源材料", "高分子材料", "Materials informatics"),
    ),
    DepartmentSpec(
        "phys",
        "物理学院",
        "School of Physics",
        "science",
        SCIENCE,
        ("凝聚态物理", "光学", "粒子物理", "天体物理", "量子信息", "Computational physics"),
    ),
    DepartmentSpec(
        "math",
        "数学科学学院",
        "School of Mathematical Sciences",
        "science",
        SCIENCE,
        ("基础数学", "应用数学", "概率论与数理统计", "运筹学", "Numerical analysis"),
    ),
    DepartmentSpec(
        "med",
        "医学院",
        "School of Medicine",
        "medicine",
        MEDICAL,
        ("临床医学", "流行病学", "神经科学", "肿瘤学", "公共卫生", "Medical imaging"),
    ),
    DepartmentSpec(
        "pharm",
        "药学院",
        "School of Pharmacy",
        "medicine",
        MEDICAL,
        ("药物化学", "药理学", "药剂学", "中药学", "Drug delivery"),
    ),
    DepartmentSpec(
        "lit",
        "文学院",
        "School of Chinese Language and Literature",
        "literature",
        MAIN,
        ("中国古代文学", "中国现当代文学", "汉语言文字学", "文艺学", "比较文学", "古典文献学"),
    ),
    DepartmentSpec(
        "sfl",
        "外国语学院",
        "School of Foreign Languages",
        "literature",
        MAIN,
        ("英语语言文学", "翻译学", "日语语言文学", "应用语言学", "Second language acquisition"),
    ),
    DepartmentSpec(
        "sem",
        "经济与管理学院",
        "School of Economics and Management",
        "management",
        MAIN,
        ("市场营销", "会计学", "管理科学与工程", "数字经济", "供应链管理", "Corporate finance"),
    ),
    DepartmentSpec(
        "law",
        "法学院",
        "Law School",
        "law",
        MAIN,
        ("民商法学", "刑法学", "国际法", "知识产权法", "宪法与行政法", "Data protection law"),
    ),
    DepartmentSpec(
        "art",
        "艺术学院",
        "School of Arts",
        "art",
        MAIN,
        ("美术学", "设计学", "音乐学", "数字媒体艺术", "艺术史"),
    ),
    DepartmentSpec(
        "hist",
        "历史学院",
        "School of History",
        "history",
        MAIN,
        ("中国古代史", "中国近现代史", "世界史", "考古学", "历史文献学"),
    ),
    DepartmentSpec(
        "edu",
        "教育学院",
        "School of Education",
        "education",
        MAIN,
        ("教育技术学", "高等教育学", "课程与教学论", "学前教育", "Educational psychology"),
    ),
    DepartmentSpec(
        "phil",
        "哲学系",
        "Department of Philosophy",
        "philosophy",
        MAIN,
        ("中国哲学", "外国哲学", "伦理学", "科学技术哲学", "逻辑学"),
    ),
    DepartmentSpec(
        "iis",
        "交叉科学研究院",
        "Institute for Interdisciplinary Sciences",
        "interdisciplinary",
        SCIENCE,
        ("生物信息学", "计算社会科学", "数字人文", "认知科学", "Science of science"),
    ),
)

# Relative sizes of the schools (students and staff are drawn in these proportions).
DEPARTMENT_WEIGHTS: dict[str, int] = {
    "cs": 14,
    "mse": 6,
    "phys": 6,
    "math": 6,
    "med": 12,
    "pharm": 5,
    "lit": 8,
    "sfl": 7,
    "sem": 12,
    "law": 6,
    "art": 5,
    "hist": 4,
    "edu": 5,
    "phil": 3,
    "iis": 2,
}

# Visiting scholars and exchange students mostly work in English.
ENGLISH_SPECIALTIES = (
    "Comparative literature",
    "Machine translation",
    "Urban sociology",
    "Climate economics",
    "Sinology",
    "Public health policy",
    "Quantum computing",
    "Digital humanities",
)

STREETS = ("学府路", "明德路", "文华街", "湖滨路", "桂园路", "紫荆路", "枫林路", "长青街")
ESTATES = ("明德花园", "湖畔小区", "学府家园", "桂苑", "枫林小区", "教职工公寓", "文华里")
DORMITORIES = {
    "undergraduate": ("紫荆公寓", "桃李园", "芙蓉园"),
    "postgraduate": ("研究生公寓", "博士生公寓"),
    "foreign": ("留学生公寓",),
}


@dataclass(frozen=True)
class GateSpec:
    """A gate (turnstile or card-reader door) and the branch, and space, behind it."""

    gate: str
    branch: str
    space: str | None
    name_zh: str


GATES: tuple[GateSpec, ...] = (
    GateSpec("ZG-E1", MAIN, None, "总馆东门闸机"),
    GateSpec("ZG-S2", MAIN, None, "总馆南门闸机"),
    GateSpec("LG-01", SCIENCE, None, "理工分馆闸机"),
    GateSpec("YX-01", MEDICAL, None, "医学分馆闸机"),
    GateSpec("ZZ-24", SELF_SERVICE, "自助阅览区", "24小时自助图书馆门禁"),
    GateSpec("SQ-01", COMMUNITY, None, "学府社区服务点门禁"),
)

#: Opening hours as (opening, closing) minutes after midnight; the self-service library never
#: closes.
OPENING_HOURS: dict[str, tuple[int, int]] = {
    MAIN: (7 * 60 + 30, 22 * 60 + 30),
    SCIENCE: (8 * 60, 22 * 60),
    MEDICAL: (8 * 60, 22 * 60),
    SELF_SERVICE: (0, 24 * 60),
    COMMUNITY: (9 * 60, 20 * 60),
}
CAMPUS_BRANCHES = (MAIN, SCIENCE, MEDICAL)

#: Bookable spaces (研讨间, 座位区) by branch: what seat-booking events name.
SPACES: dict[str, tuple[str, ...]] = {
    MAIN: ("研讨间A", "研讨间B", "三楼自习区", "四楼安静区", "多媒体室"),
    SCIENCE: ("研讨间1", "二楼自习区", "创客空间"),
    MEDICAL: ("研讨间", "自习区"),
    SELF_SERVICE: ("自助阅览区", "夜间自习座位"),
    COMMUNITY: ("亲子阅读区",),
}
