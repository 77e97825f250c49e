from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "libcrm.segments"
