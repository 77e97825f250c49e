"""Load the named classes of the CLC, LCC and DDC schedules (libcrm.catalog.schedules)."""

from django.db import migrations


def load(apps, schema_editor):
    from libcrm.catalog.services import load_classification_schedules

    load_classification_schedules(apps.get_model("catalog", "Classification"))


def unload(apps, schema_editor):
    Classification = apps.get_model("catalog", "Classification")
    Classification.objects.update(parent=None)
    Classification.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
