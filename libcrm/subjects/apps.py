from django.apps import AppConfig


class SubjectsConfig(AppConfig):
    name = "libcrm.subjects"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from libcrm.subjects.scrubbing import enable_secure_delete

        connection_created.connect(enable_secure_delete, dispatch_uid="subjects-secure-delete")
