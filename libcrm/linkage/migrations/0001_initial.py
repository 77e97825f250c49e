import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("patrons", "0002_patron_status_merged"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LinkRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("actor_label", models.CharField(max_length=150)),
                ("backend", models.CharField(default="duckdb", max_length=8)),
                ("review_threshold", models.FloatField()),
                ("auto_merge_threshold", models.FloatField(blank=True, null=True)),
                ("records", models.PositiveIntegerField(default=0)),
                ("pairs_found", models.PositiveIntegerField(default=0)),
                ("proposed", models.PositiveIntegerField(default=0)),
                ("auto_merged", models.PositiveIntegerField(default=0)),
                ("skipped_decided", models.PositiveIntegerField(default=0)),
                ("model", models.JSONField(blank=True, default=dict)),
                ("timings", models.JSONField(blank=True, default=dict)),
                ("error", models.TextField(blank=True)),
            ],
            options={
                "ordering": ["-started_at", "-id"],
                "permissions": [("review_matches", "Can review possible duplicates and merge patrons")],
            },
        ),
        migrations.CreateModel(
            name="MatchCandidate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("source", models.CharField(choices=[("linker", "Probabilistic linker"), ("conflict", "Conflicting identifier claim"), ("staff", "Proposed by staff")], max_length=10)),
                ("match_probability", models.FloatField(blank=True, null=True)),
                ("match_weight", models.FloatField(blank=True, null=True)),
                ("evidence", models.JSONField(blank=True, default=list)),
                ("status", models.CharField(choices=[("pending", "Awaiting review"), ("accepted", "Same person (merged)"), ("rejected", "Different people"), ("obsolete", "No longer applicable")], db_index=True, default="pending", max_length=10)),
                ("proposed_at", models.DateTimeField(auto_now_add=True)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                ("decided_by_label", models.CharField(blank=True, max_length=150)),
                ("note", models.CharField(blank=True, max_length=500)),
                ("decided_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("left", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patrons.patron")),
                ("right", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patrons.patron")),
                ("run", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to="linkage.linkrun")),
            ],
            options={
                "ordering": ["-match_probability", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("left", "right"), name="candidate_pair_unique"),
                    models.CheckConstraint(condition=models.Q(("left__lt", models.F("right"))), name="candidate_pair_ordered"),
                ],
            },
        ),
        migrations.CreateModel(
            name="Merge",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("reason", models.CharField(max_length=500)),
                ("at", models.DateTimeField(auto_now_add=True)),
                ("actor_label", models.CharField(max_length=150)),
                ("moves", models.JSONField(default=dict)),
                ("undone_at", models.DateTimeField(blank=True, null=True)),
                ("undone_by_label", models.CharField(blank=True, max_length=150)),
                ("undo_reason", models.CharField(blank=True, max_length=500)),
                ("actor", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("candidate", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="merges", to="linkage.matchcandidate")),
                ("merged", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patrons.patron")),
                ("survivor", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="patrons.patron")),
            ],
            options={
                "ordering": ["-at", "-id"],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("undone_at__isnull", True)), fields=("merged",), name="one_standing_merge_per_record"),
                ],
            },
        ),
    ]
