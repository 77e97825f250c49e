"""``libcrm serve``: the staff console, the API and static files over HTTP, with waitress.

Listens on 127.0.0.1 by default: put a TLS-terminating reverse proxy in front of libcrm before
opening it to a network. Static files are served by WhiteNoise, so no web server is needed.
"""

from __future__ import annotations

import ipaddress
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.servers.basehttp import get_internal_wsgi_application
from django.urls import NoReverseMatch, reverse

from libcrm.console.doctor import unapplied_migrations
from libcrm.privacy.rotation import holding_keys

DEFAULT_PORT = 8000
DEFAULT_THREADS = 8


def port_from(value: str, source: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise CommandError(f"{source} must be a port number, not {value!r}") from None
    if not 0 <= port <= 65535:
        raise CommandError(f"{source} must be between 0 and 65535 (got {port})")
    return port


def url_host(host: str) -> str:
    """The host as a browser on this machine should write it."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - only naming the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


class Command(BaseCommand):
    help = (
        "Serve libcrm (staff console, API, static files) with waitress. Listens on "
        "127.0.0.1:8000 unless --host/--port (or the PORT variable) say otherwise; Ctrl-C stops."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host",
            default="127.0.0.1",
            help="address to listen on (default 127.0.0.1; 0.0.0.0 for every interface, "
            "behind a reverse proxy)",
        )
        parser.add_argument(
            "--port", default=None, help=f"port to listen on (default $PORT or {DEFAULT_PORT})"
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=DEFAULT_THREADS,
            help=f"requests served at once (default {DEFAULT_THREADS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from waitress.server import create_server

        host = options["host"]
        if options["port"] is not None:
            port = port_from(str(options["port"]), "--port")
        else:
            port = port_from(settings.LIBCRM_PORT, "PORT")
        threads = options["threads"]
        if not 1 <= threads <= 256:
            raise CommandError(f"--threads must be between 1 and 256 (got {threads})")
        pending = unapplied_migrations()
        if pending:
            self.stdout.write(
                self.style.WARNING(
                    f"! {len(pending)} database migrations are not applied; pages will fail "
                    "until you run: libcrm migrate"
                )
            )
        # WhiteNoise serves collected files from STATIC_ROOT beside the apps' own (finders) and
        # warns on every start when the folder is missing.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        application = get_internal_wsgi_application()
        try:
            server = create_server(
                application,
                host=host,
                port=port,
                threads=threads,
                ident="libcrm",
                clear_untrusted_proxy_headers=True,
            )
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another port "
                "with --port, or stop whatever is using it"
            ) from None
        base = f"http://{url_host(host)}:{server.effective_port}"
        listening = "" if url_host(host).strip("[]") == host else f" (listening on {host})"
        self.stdout.write(self.style.SUCCESS(f"libcrm is serving on {base}/{listening}"))
        self.stdout.write(f"  sign in at {base}{_login_path()}  ·  API docs at {base}/api/docs")
        self.stdout.write(
            f"  data in {settings.LIBCRM_HOME}  ·  {threads} threads  ·  Ctrl-C stops"
        )
        self.stdout.flush()
        if threading.current_thread() is threading.main_thread():
            # Service managers and containers stop processes with SIGTERM: treat it as Ctrl-C.
            signal.signal(signal.SIGTERM, _interrupt)
        try:
            with holding_keys("libcrm-serve"):
                server.run()
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
        self.stdout.write("Stopped.")


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _login_path() -> str:
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/"
