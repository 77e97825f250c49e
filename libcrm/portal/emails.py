"""The portal's e-mails, in English and Chinese in one message (we do not know which the patron
reads), sent through Django's configured e-mail backend."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

LANGUAGES = ("en", "zh-hans")


def password_link_message(address: str, link: str, *, first_time: bool) -> EmailMessage:
    minutes = max(1, settings.LIBCRM_PORTAL_RESET_SECONDS // 60)
    parts, subjects = [], []
    for language in LANGUAGES:
        with translation.override(language):
            subjects.append(
                _("Set up your library account") if first_time else _("Reset your library password")
            )
            parts.append(
                render_to_string(
                    "portal/email/password_link.txt",
                    {"link": link, "minutes": minutes, "first_time": first_time},
                ).strip()
            )
    subject = " / ".join(dict.fromkeys(subjects))  # one subject if both read the same
    return EmailMessage(
        subject=subject,
        body="\n\n----------\n\n".join(parts) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
    )
