from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patrons", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="patron",
            name="status",
            field=models.CharField(
                choices=[
                    ("active", "Active"),
                    ("provisional", "Provisional (awaiting review)"),
                    ("suspended", "Suspended"),
                    ("expired", "Expired"),
                    ("closed", "Closed"),
                    ("merged", "Merged into another record"),
                ],
                db_index=True,
                default="active",
                max_length=12,
            ),
        ),
    ]
