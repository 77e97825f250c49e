"""The default retention policies (ALA Library Privacy Guidelines; Koha's anonymisation):
loan history is kept only for patrons who opted in, everyone else's is detached from them
14 days after the item came back."""

from django.db import migrations

CIRCULATION = ["loan", "return", "renewal", "hold"]
DEFAULTS = [
    {
        "name": "Loan history",
        "event_types": CIRCULATION,
        "action": "anonymise",
        "age_days": 14,
        "measured_from": "return",
        "exempt_consent": "loan_history",
        "notes": "Detached from the patron 14 days after the return unless they keep their "
        "loan history; statistics survive.",
    },
    {
        "name": "Loans never returned",
        "event_types": ["loan", "renewal", "hold"],
        "action": "anonymise",
        "age_days": 365,
        "measured_from": "event",
        "exempt_consent": "loan_history",
        "notes": "Lost items and holds never collected: detached after a year.",
    },
    {
        "name": "Messages and reference questions",
        "event_types": ["message_in", "message_out", "consultation"],
        "action": "anonymise",
        "age_days": 365,
        "measured_from": "event",
        "exempt_consent": "",
        "notes": "Needed for follow-up and message frequency, not beyond a year.",
    },
    {
        "name": "Feedback and surveys",
        "event_types": ["feedback", "survey_answer"],
        "action": "anonymise",
        "age_days": 730,
        "measured_from": "event",
        "exempt_consent": "",
        "notes": "Complaints may need follow-up for two years; counts survive.",
    },
]


def seed(apps, schema_editor):
    policy = apps.get_model("subjects", "RetentionPolicy")
    for fields in DEFAULTS:
        policy.objects.get_or_create(name=fields["name"], defaults=fields)


def unseed(apps, schema_editor):
    policy = apps.get_model("subjects", "RetentionPolicy")
    policy.objects.filter(name__in=[d["name"] for d in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("subjects", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
