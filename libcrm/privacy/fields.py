"""A model field that stores text sealed with the keyring (see :mod:`libcrm.privacy.crypto`).

The associated data is ``app_label.Model.field``, so a ciphertext moved to another column or
table no longer opens. Values cannot be filtered in SQL; search uses blind-index columns.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from libcrm.privacy import crypto
from libcrm.privacy.keys import get_keyring


class EncryptedTextField(models.TextField):
    description = "Text encrypted at rest (AES-256-GCM)"

    def contribute_to_class(
        self, cls: type[models.Model], name: str, *args: Any, **kw: Any
    ) -> None:
        super().contribute_to_class(cls, name, *args, **kw)
        self.crypto_context = f"{cls._meta.label}.{name}"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(get_keyring(), value, self.crypto_context)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(get_keyring(), str(value), self.crypto_context)

    def get_lookup(self, lookup_name: str) -> Any:
        # Only NULL checks make sense on ciphertext; anything else would silently match nothing.
        if lookup_name not in {"isnull"}:
            raise TypeError(
                f"{self.crypto_context} is encrypted; search it through its blind index instead"
            )
        return super().get_lookup(lookup_name)
