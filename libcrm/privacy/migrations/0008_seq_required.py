from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0007_chain_existing_records"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(editable=False, unique=True),
        ),
    ]
