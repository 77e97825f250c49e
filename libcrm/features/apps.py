from django.apps import AppConfig


class FeaturesConfig(AppConfig):
    name = "libcrm.features"

    def ready(self) -> None:
        from libcrm.features import receivers

        receivers.connect()
