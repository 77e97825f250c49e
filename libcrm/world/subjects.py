"""The demo collection's subject pools: groups of items under 中图法 (CLC) classes, with the
words their titles are made of, and which pools each discipline (学科门类) reads.

A person's loans are drawn from the pools of their discipline, plus the pool of their latent
group's own interest (picture books for families, exam guides for crammers, popular reading).
Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SubjectPool:
    code: str
    clc: tuple[str, ...]
    heading_zh: str  # the 650 subject heading
    heading_en: str
    chinese_share: float  # share of Chinese-language items
    topics_zh: tuple[str, ...]
    topics_en: tuple[str, ...]
    weight: float  # relative size in the collection
    materials: Mapping[str, float] | None = None  # text, audio, video, image weights

    def material_weights(self) -> Mapping[str, float]:
        return self.materials or {"text": 93, "audio": 3, "video": 3, "image": 1}


_ZH_BOOK = ("{t}", "{t}导论", "{t}原理与实践", "深入理解{t}", "{t}实战", "{t}基础教程", "{t}研究")
_EN_BOOK = ("Introduction to {t}", "{t}: Principles and Practice", "Foundations of {t}",
            "Hands-On {t}", "{t} in Context", "A History of {t}", "Modern {t}")  # fmt: skip
_ZH_NOVEL = ("{t}", "{t}记", "{t}往事", "{t}之歌", "{t}人家", "{t}的故事", "{t}岁月")
_EN_NOVEL = ("{t}", "The {t}", "{t}: A Novel", "Letters from {t}", "The Last {t}")
TITLE_PATTERNS = {"book": (_ZH_BOOK, _EN_BOOK), "fiction": (_ZH_NOVEL, _EN_NOVEL)}
FICTION_POOLS = frozenset({"chinese_literature", "foreign_literature", "children", "popular"})

POOLS: tuple[SubjectPool, ...] = (
    SubjectPool("computing", ("TP18", "TP181", "TP311.13", "TP312", "TP316", "TP391", "TP393"),
                "计算机科学", "Computer science", 0.7,
                ("机器学习", "深度学习", "数据库系统", "操作系统", "计算机网络", "编译原理",
                 "分布式系统", "Python程序设计", "算法设计与分析", "数据结构", "自然语言处理"),
                ("Machine Learning", "Deep Learning", "Database Systems", "Operating Systems",
                 "Computer Networks", "Compilers", "Distributed Systems", "Algorithms"), 9),
    SubjectPool("mathematics", ("O13", "O15", "O17", "O21", "O24"), "数学", "Mathematics", 0.75,
                ("数学分析", "高等代数", "实变函数", "概率论", "数理统计", "数值分析", "拓扑学"),
                ("Real Analysis", "Linear Algebra", "Probability", "Statistics",
                 "Numerical Analysis", "Topology"), 5),
    SubjectPool("physics", ("O4", "O41", "O48"), "物理学", "Physics", 0.7,
                ("理论力学", "电动力学", "量子力学", "统计物理", "固体物理", "光学"),
                ("Quantum Mechanics", "Electrodynamics", "Statistical Physics",
                 "Condensed Matter", "Optics"), 4),
    SubjectPool("engineering", ("TB3", "TG1", "TQ3", "TM91"), "材料与能源", "Materials and energy",
                0.75, ("材料科学基础", "高分子材料", "纳米材料", "新能源材料", "金属学"),
                ("Materials Science", "Polymer Science", "Nanomaterials", "Energy Storage"), 3),
    SubjectPool("medicine", ("R2", "R4", "R5", "R6", "R73", "R181", "R96"), "医学", "Medicine",
                0.8, ("内科学", "外科学", "诊断学", "流行病学", "肿瘤学", "药理学", "中医基础理论"),
                ("Internal Medicine", "Surgery", "Epidemiology", "Oncology", "Pharmacology"), 7),
    SubjectPool("biology", ("Q1", "Q5", "Q7", "Q81"), "生物学", "Biology", 0.65,
                ("细胞生物学", "生物化学", "分子生物学", "遗传学", "生物信息学"),
                ("Cell Biology", "Biochemistry", "Molecular Biology", "Genetics"), 2),
    SubjectPool("chinese_literature", ("I206", "I207.4", "I22", "I242", "I246", "I266"),
                "中国文学", "Chinese literature", 1.0,
                ("长夜", "故乡", "山河", "南方", "远行", "月光", "旧城", "白鹿", "边城", "归途",
                 "江南", "秋水"), (), 7),
    SubjectPool("foreign_literature", ("I106", "I313.45", "I512.45", "I561.45", "I565.45",
                                       "I712.45"), "外国文学", "World literature", 0.55,
                ("海上", "雪国", "远方", "玫瑰", "夏日", "灯塔", "冬夜"),
                ("Lighthouse", "Winter", "Harbour", "River", "Garden", "Summer House"), 5),
    SubjectPool("language", ("H1", "H31", "H315", "H36", "H195"), "语言学", "Linguistics", 0.6,
                ("英语语法", "汉语语法", "翻译理论", "日语", "对外汉语教学", "语言学概论"),
                ("English Grammar", "Translation Studies", "Linguistics", "Phonetics"), 4,
                {"text": 88, "audio": 10, "video": 2}),
    SubjectPool("economics", ("F0", "F12", "F27", "F272", "F83", "F830"), "经济学", "Economics",
                0.75, ("宏观经济学", "微观经济学", "计量经济学", "公司金融", "数字经济", "会计学"),
                ("Macroeconomics", "Econometrics", "Corporate Finance", "Accounting"), 6),
    SubjectPool("management", ("C93", "F272", "C91"), "管理学", "Management", 0.7,
                ("管理学原理", "组织行为学", "市场营销", "战略管理", "供应链管理"),
                ("Management", "Organizational Behavior", "Marketing", "Strategy"), 3),
    SubjectPool("law", ("D90", "D92", "D923", "D924", "D99"), "法学", "Law", 0.85,
                ("民法学", "刑法学", "宪法学", "国际法", "知识产权法", "行政法"),
                ("International Law", "Data Protection Law", "Contract Law"), 4),
    SubjectPool("art", ("J0", "J2", "J21", "J5", "J6", "J9"), "艺术", "Art", 0.7,
                ("中国绘画史", "设计概论", "音乐欣赏", "电影艺术", "书法", "摄影"),
                ("Art History", "Design", "Film Studies", "Photography"), 3,
                {"text": 60, "image": 20, "video": 12, "audio": 8}),
    SubjectPool("history", ("K0", "K1", "K20", "K24", "K25", "K5", "K712", "K87"), "历史",
                "History", 0.85, ("中国通史", "明清史", "世界史", "考古学", "近代史", "史学理论"),
                ("World History", "Archaeology", "Modern China", "Historiography"), 5),
    SubjectPool("education", ("G40", "G44", "G64", "G642", "B84", "B842"), "教育学与心理学",
                "Education and psychology", 0.85,
                ("教育学原理", "教育心理学", "课程论", "高等教育学", "发展心理学"),
                ("Educational Psychology", "Higher Education", "Learning Sciences"), 3),
    SubjectPool("philosophy", ("B0", "B2", "B22", "B5", "B81", "B82"), "哲学", "Philosophy",
                0.8, ("中国哲学史", "西方哲学史", "伦理学", "逻辑学", "美学", "科学哲学"),
                ("Ethics", "Logic", "Philosophy of Science", "Aesthetics"), 3),
    SubjectPool("information", ("G25", "G250", "G252", "G254"), "图书馆学与情报学",
                "Library and information science", 0.85,
                ("图书馆学", "信息检索", "数字人文", "知识组织", "用户研究"),
                ("Information Retrieval", "Digital Humanities", "Knowledge Organization"), 1.5),
    SubjectPool("children", ("I287", "I287.5", "I287.8", "Z228"), "儿童读物", "Children's books",
                0.9, ("小熊", "月亮船", "彩虹", "森林", "小兔子", "大恐龙", "星星", "小猫"),
                ("Little Bear", "Rainbow", "Dinosaurs", "Stars"), 6,
                {"text": 84, "audio": 10, "video": 4, "image": 2}),
    SubjectPool("exam", ("H310.42", "G643", "O13-44"), "考试辅导", "Exam preparation", 1.0,
                ("大学英语四级", "大学英语六级", "考研数学", "考研政治", "高等数学习题"), (), 3,
                {"text": 90, "audio": 10}),
    SubjectPool("popular", ("I247.5", "K827", "I267", "B821", "TS97", "R161"), "大众读物",
                "Popular reading", 0.9,
                ("星河", "三生", "人间", "烟火", "长安", "漫长的季节", "一个人的远方", "慢生活"),
                ("Stars", "Small Things", "The Long Road"), 9,
                {"text": 90, "audio": 7, "video": 3}),
)  # fmt: skip
POOL_CODES: tuple[str, ...] = tuple(p.code for p in POOLS)
POOL_INDEX: dict[str, int] = {code: i for i, code in enumerate(POOL_CODES)}

# What each discipline reads (relative weights); "" is people outside the schools.
DISCIPLINE_POOLS: dict[str, dict[str, float]] = {
    "engineering": {"computing": 6, "mathematics": 2, "engineering": 3, "physics": 1},
    "science": {"mathematics": 4, "physics": 4, "computing": 1.5, "biology": 1},
    "medicine": {"medicine": 7, "biology": 2},
    "literature": {"chinese_literature": 4, "foreign_literature": 3, "language": 3},
    "management": {"economics": 5, "management": 4, "mathematics": 1},
    "law": {"law": 7, "philosophy": 1},
    "art": {"art": 7, "history": 1},
    "history": {"history": 7, "chinese_literature": 1.5},
    "education": {"education": 6, "philosophy": 1},
    "philosophy": {"philosophy": 6, "history": 1.5},
    "interdisciplinary": {"computing": 2, "biology": 2, "information": 3, "history": 1},
    "": {"popular": 4, "chinese_literature": 3, "history": 2, "foreign_literature": 2,
         "medicine": 1, "economics": 1, "art": 1},
}  # fmt: skip
