from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "libcrm.consent"

    def ready(self) -> None:
        from libcrm.consent import receivers
        from libcrm.privacy import signals

        signals.patron_erased.connect(receivers.on_patron_erased, dispatch_uid="consent-erased")
