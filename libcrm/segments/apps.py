from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "libcrm.segments"

    def ready(self) -> None:
        from libcrm.segments import receivers

        receivers.connect()
