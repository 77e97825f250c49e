"""Library staff (M14 groundwork): a profile beside Django's user, holding the staff role."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StaffProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    display_name = models.CharField(max_length=100, blank=True)
    library_department = models.CharField(max_length=100, blank=True)

    class Meta:
        permissions = [("manage_staff", "Can create staff accounts and assign roles")]

    def __str__(self) -> str:
        return self.display_name or self.user.get_username()
