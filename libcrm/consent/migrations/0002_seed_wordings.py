"""The first published wording of every consent purpose, in English and Chinese."""

from django.db import migrations
from django.utils import timezone

WORDINGS = {
    "analytics": (
        "The library counts how its services are used — visits, loans, e-resources, events — "
        "to plan opening hours, collections and spaces. These statistics use a pseudonym "
        "instead of your name, are only ever shown as totals of several people, and are never "
        "sold or shared with advertisers. You can say no at any time; your use of the library "
        "will not change.",
        "图书馆统计各项服务的使用情况（到馆、借阅、电子资源、活动），用于安排开放时间、馆藏和空间。"
        "统计使用假名代替您的姓名，只以多人合计的形式呈现，绝不出售，也不提供给广告方。"
        "您可以随时拒绝，拒绝不影响您使用图书馆。",
    ),
    "personalisation": (
        "Use my loans, reservations and visits to suggest books, resources and events that may "
        "interest me. The suggestions are made inside the library's own system; nothing about "
        "what I read is shared with anyone else. If I say no, I see the same suggestions as "
        "everyone else.",
        "根据我的借阅、预约和到馆记录，向我推荐可能感兴趣的图书、资源和活动。推荐在图书馆自己的"
        "系统内完成，我的阅读情况不会提供给任何其他方。如果我拒绝，我看到的推荐与其他读者相同。",
    ),
    "outreach_email": (
        "Send me news, invitations to events and reminders of new services by e-mail. "
        "Messages about my own loans and account are sent regardless.",
        "通过电子邮件向我发送图书馆新闻、活动邀请和新服务介绍。与我本人借阅和账户有关的通知不受此影响。",
    ),
    "outreach_sms": (
        "Send me news, invitations to events and reminders of new services by text message. "
        "Messages about my own loans and account are sent regardless.",
        "通过短信向我发送图书馆新闻、活动邀请和新服务介绍。与我本人借阅和账户有关的通知不受此影响。",
    ),
    "outreach_wechat": (
        "Send me news, invitations to events and reminders of new services through the "
        "library's WeChat account. Messages about my own loans and account are sent regardless.",
        "通过图书馆微信公众号向我发送新闻、活动邀请和新服务介绍。与我本人借阅和账户有关的通知不受此影响。",
    ),
    "outreach_weibo": (
        "Send me news, invitations to events and reminders of new services through the "
        "library's Weibo account. Messages about my own loans and account are sent regardless.",
        "通过图书馆微博账号向我发送新闻、活动邀请和新服务介绍。与我本人借阅和账户有关的通知不受此影响。",
    ),
    "loan_history": (
        "Keep a list of the items I have borrowed so that I can look back at it. Without this, "
        "the library unlinks each loan from me within 14 days of its return and keeps only "
        "anonymous statistics. I can switch this off at any time; the history kept so far is "
        "then unlinked in the same way.",
        "保留我借过的文献清单，方便我日后查看。如不开启，图书馆会在归还后14天内解除借阅记录与我的"
        "关联，只保留匿名统计。我可以随时关闭，届时已保留的记录也会同样解除关联。",
    ),
    "research": (
        "Allow researchers approved by the library to study my use of the library, without my "
        "name or contact details, for research on libraries and reading. Results are published "
        "only as statistics about groups. Saying no changes nothing about the service I get.",
        "允许经图书馆批准的研究人员在不含我姓名和联系方式的情况下，研究我对图书馆的使用，用于图书馆"
        "与阅读相关研究。研究结果只以群体统计的形式发表。拒绝不会影响我享受的服务。",
    ),
}


def seed(apps, schema_editor):
    ConsentWording = apps.get_model("consent", "ConsentWording")
    now = timezone.now()
    for purpose, (text_en, text_zh) in WORDINGS.items():
        ConsentWording.objects.get_or_create(
            purpose=purpose,
            version=1,
            defaults={"text_en": text_en, "text_zh": text_zh, "published_at": now},
        )


def unseed(apps, schema_editor):
    apps.get_model("consent", "ConsentWording").objects.filter(version=1).delete()


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
