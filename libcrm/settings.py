"""libcrm settings: every knob is read here, once, from the environment, with safe defaults.

Zero configuration works: data lives under ``./var`` (``LIBCRM_HOME``), the embedded SQLite
database in WAL mode, and a key file created on first run. See docs/operators.md for every
variable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from libcrm.privacy import keyfile
from libcrm.privacy.crypto import KeyringError

BASE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


LIBCRM_HOME = Path(os.environ.get("LIBCRM_HOME", Path.cwd() / "var")).resolve()
LIBCRM_DATA_DIR = Path(os.environ.get("LIBCRM_DATA_DIR", LIBCRM_HOME / "data")).resolve()
LIBCRM_KEY_FILE = Path(
    os.environ.get("LIBCRM_KEY_FILE", LIBCRM_HOME / "keys" / "libcrm-keys.json")
).resolve()

# Keys come from LIBCRM_KEYS (the key file's JSON, for containers and secret stores) or from the
# key file, which is created with owner-only permissions on first run.
_default_sqlite = LIBCRM_DATA_DIR / "libcrm.sqlite3"
try:
    if os.environ.get("LIBCRM_KEYS"):
        LIBCRM_KEY_SOURCE = "environment variable LIBCRM_KEYS"
        try:
            LIBCRM_KEY_MATERIAL = json.loads(os.environ["LIBCRM_KEYS"])
        except json.JSONDecodeError as exc:
            raise KeyringError(f"LIBCRM_KEYS is not valid JSON: {exc}") from exc
    else:
        LIBCRM_KEY_SOURCE = f"key file {LIBCRM_KEY_FILE}"
        if (
            not LIBCRM_KEY_FILE.exists()
            and "DATABASE_URL" not in os.environ
            and (_default_sqlite.exists() and _default_sqlite.stat().st_size > 0)
        ):
            # New keys cannot open data sealed with the old ones: never create them silently.
            raise KeyringError(
                f"the key file {LIBCRM_KEY_FILE} is missing but the database "
                f"{_default_sqlite} already exists; restore the key file (or set LIBCRM_KEYS). "
                "Only if the data is meant to be discarded, move the data folder away."
            )
        LIBCRM_KEY_MATERIAL = keyfile.load_or_create(LIBCRM_KEY_FILE)
except KeyringError as exc:
    raise ImproperlyConfigured(f"libcrm keys: {exc}") from None

SECRET_KEY = os.environ.get("LIBCRM_SECRET_KEY") or LIBCRM_KEY_MATERIAL["secret_key"]
DEBUG = _env_bool("LIBCRM_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("LIBCRM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("LIBCRM_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",  # serves the API docs' Swagger UI assets locally (no CDN: libraries run offline)
    "libcrm.privacy",
    "libcrm.staff",
    "libcrm.patrons",
    "libcrm.catalog",
    "libcrm.events",
    "libcrm.ingest",
    "libcrm.api",
    "libcrm.insight",
    "libcrm.linkage",
    "libcrm.features",
    "libcrm.segments",
    "libcrm.consent",
    "libcrm.portal",
    "libcrm.subjects",
    "libcrm.backup",
    "libcrm.world",
    "libcrm.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "libcrm.api.middleware.BoundedApiPayloadMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "libcrm.api.middleware.RefuseNulCharactersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "libcrm.urls"
WSGI_APPLICATION = "libcrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "libcrm.console.context.navigation",
            ],
        },
    },
]

_default_db = f"sqlite:///{_default_sqlite}"
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # WAL lets readers work while one writer commits; IMMEDIATE transactions take the write lock
    # up front so concurrent writers wait (busy timeout) instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
        "PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first (OWASP's recommendation); older hashes are upgraded on the next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# English is the fallback; a browser that prefers Chinese (zh, zh-CN, zh-Hans…) gets 简体中文.
LANGUAGE_CODE = "en"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("LIBCRM_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = LIBCRM_HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = int(os.environ.get("LIBCRM_SESSION_SECONDS", 8 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the cookie-less header meta tag instead
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# `libcrm serve` listens here unless --port says otherwise; PORT is the platform convention
# (containers, PaaS), LIBCRM_PORT ours. Validated by the command, which names the variable.
LIBCRM_PORT = os.environ.get("LIBCRM_PORT") or os.environ.get("PORT") or "8000"

# The API refuses bodies larger than this with 413 (see libcrm.api.middleware).
LIBCRM_API_MAX_BODY_BYTES = int(os.environ.get("LIBCRM_API_MAX_BODY_BYTES", 1_000_000))
DATA_UPLOAD_MAX_MEMORY_SIZE = max(LIBCRM_API_MAX_BODY_BYTES, 2_621_440)

# The event store (Parquet, queried by DuckDB) lives in the data folder unless moved.
LIBCRM_EVENT_STORE_DIR = Path(
    os.environ.get("LIBCRM_EVENT_STORE_DIR", LIBCRM_DATA_DIR / "events")
).resolve()

# Files staff upload for import in the console wait here between the mapping, preview and import
# steps (private: mode 0700, never served); larger files are refused before they are stored.
LIBCRM_UPLOAD_DIR = Path(os.environ.get("LIBCRM_UPLOAD_DIR", LIBCRM_DATA_DIR / "uploads")).resolve()
LIBCRM_UPLOAD_MAX_BYTES = int(os.environ.get("LIBCRM_UPLOAD_MAX_BYTES", 50 * 1024 * 1024))

# Ingestion: an identifier no patron holds creates a provisional patron ("provisional", so
# nothing is lost) or refuses the row ("reject"). The NDJSON API takes bodies up to this size.
LIBCRM_INGEST_UNKNOWN = os.environ.get("LIBCRM_INGEST_UNKNOWN", "provisional")
LIBCRM_INGEST_MAX_BODY_BYTES = int(os.environ.get("LIBCRM_INGEST_MAX_BODY_BYTES", 64 * 1024 * 1024))

# Aggregates shown to staff hide groups smaller than this (k-anonymity style suppression).
LIBCRM_MIN_GROUP_SIZE = int(os.environ.get("LIBCRM_MIN_GROUP_SIZE", 5))

# Backups (docs/operators.md): archives go to LIBCRM_BACKUP_DIR, outside the data folder so a
# backup never contains older backups, and to S3-compatible storage when LIBCRM_BACKUP_S3_URL
# (s3://bucket/prefix) is set; LIBCRM_BACKUP_S3_ENDPOINT for anything other than AWS itself.
LIBCRM_BACKUP_DIR = Path(os.environ.get("LIBCRM_BACKUP_DIR", LIBCRM_HOME / "backups")).resolve()
LIBCRM_BACKUP_S3_URL = os.environ.get("LIBCRM_BACKUP_S3_URL", "")
LIBCRM_BACKUP_S3_ENDPOINT = os.environ.get("LIBCRM_BACKUP_S3_ENDPOINT", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LIBCRM_LOG_LEVEL", "WARNING")},
}

# Set when libcrm runs behind a reverse proxy that sets X-Forwarded-For (audit records the client).
LIBCRM_TRUST_X_FORWARDED_FOR = _env_bool("LIBCRM_TRUST_X_FORWARDED_FOR", False)

# --- Staff sign-in security (OWASP ASVS 5.0 L2; docs/operators.md "Staff sign-in") ----------
# Roles that see personal data sign in with a second factor (libcrm.staff.middleware keeps a
# session on the sign-in pages until then). Failed attempts per account and per client address
# within the window block further attempts until the window has passed.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "libcrm.staff.middleware.SecondFactorMiddleware",
)
LIBCRM_LOGIN_WINDOW_SECONDS = int(os.environ.get("LIBCRM_LOGIN_WINDOW_SECONDS", 15 * 60))
LIBCRM_LOGIN_MAX_FAILURES_ACCOUNT = int(os.environ.get("LIBCRM_LOGIN_MAX_FAILURES_ACCOUNT", 5))
LIBCRM_LOGIN_MAX_FAILURES_ADDRESS = int(os.environ.get("LIBCRM_LOGIN_MAX_FAILURES_ADDRESS", 20))
# Exports, erasure, merges and staff changes ask for the password (and code) again when the last
# proof of identity is older than this.
LIBCRM_REAUTH_SECONDS = int(os.environ.get("LIBCRM_REAUTH_SECONDS", 300))
# An approved bulk export can be downloaded once, within this many hours of its approval.
LIBCRM_EXPORT_VALID_HOURS = int(os.environ.get("LIBCRM_EXPORT_VALID_HOURS", 24))

# --- Portal and e-mail -------------------------------------------------------------------------
# The patron portal (/portal/) sends sign-up and password-reset links by e-mail. Without
# EMAIL_HOST the console backend prints messages to the server's output (the demo); with it,
# mail goes over SMTP (EMAIL_USE_TLS / EMAIL_USE_SSL, EMAIL_HOST_USER / EMAIL_HOST_PASSWORD).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 20))
EMAIL_BACKEND = os.environ.get(
    "LIBCRM_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("LIBCRM_EMAIL_FROM", "libcrm <noreply@localhost>")
# Links in e-mails start with this (https://library.example.edu); otherwise with the address the
# request came to (ALLOWED_HOSTS limits which).
LIBCRM_PORTAL_BASE_URL = os.environ.get("LIBCRM_PORTAL_BASE_URL", "").rstrip("/")
# A reset or activation link works once, for this long.
LIBCRM_PORTAL_RESET_SECONDS = int(os.environ.get("LIBCRM_PORTAL_RESET_SECONDS", 3600))
# At most this many reset e-mails a patron per hour (a form cannot be used to flood a mailbox).
LIBCRM_PORTAL_RESET_PER_HOUR = int(os.environ.get("LIBCRM_PORTAL_RESET_PER_HOUR", 3))
# Failed sign-ins allowed per card and per client address within the window before further
# attempts are refused (with the same answer as any failure) until the window passes.
LIBCRM_PORTAL_CARD_FAILURES = int(os.environ.get("LIBCRM_PORTAL_CARD_FAILURES", 5))
LIBCRM_PORTAL_ADDRESS_FAILURES = int(os.environ.get("LIBCRM_PORTAL_ADDRESS_FAILURES", 20))
LIBCRM_PORTAL_THROTTLE_SECONDS = int(os.environ.get("LIBCRM_PORTAL_THROTTLE_SECONDS", 900))

# Analytics engine (features, segments): DuckDB in-process by default, or Spark (PySpark local
# mode, or a cluster the session is configured for) when set to "spark"; both run the same
# definitions. The feature table lives in LIBCRM_FEATURES_DIR and is refreshed for the patrons
# of each appended batch (LIBCRM_FEATURES_ON_APPEND) and in full by `libcrm features refresh
# --full` (daily). LIBCRM_24H_BRANCHES: branch codes of 24-hour self-service spaces, whose
# entries count as 24-hour-space use.
LIBCRM_ANALYTICS_ENGINE = os.environ.get("LIBCRM_ANALYTICS_ENGINE", "duckdb").strip().lower()
if LIBCRM_ANALYTICS_ENGINE not in ("duckdb", "spark"):
    raise ImproperlyConfigured(
        f"LIBCRM_ANALYTICS_ENGINE must be duckdb or spark, not {LIBCRM_ANALYTICS_ENGINE!r}"
    )
LIBCRM_FEATURES_DIR = Path(
    os.environ.get("LIBCRM_FEATURES_DIR", LIBCRM_DATA_DIR / "features")
).resolve()
LIBCRM_FEATURES_ON_APPEND = _env_bool("LIBCRM_FEATURES_ON_APPEND", True)
LIBCRM_ANALYTICS_MEMORY = os.environ.get("LIBCRM_ANALYTICS_MEMORY", "2GB")  # DuckDB's budget
LIBCRM_24H_BRANCHES = tuple(
    b.strip() for b in os.environ.get("LIBCRM_24H_BRANCHES", "24h").split(",") if b.strip()
)

# --- Audit chain, security headers and the production profile (issue 6) ----------------------
# The audit chain's checkpoint (libcrm.privacy.checkpoint): outside the data folder and the
# database, so that cutting records off the end of the chain is noticed by `libcrm audit verify`.
LIBCRM_AUDIT_CHECKPOINT = Path(
    os.environ.get("LIBCRM_AUDIT_CHECKPOINT", LIBCRM_HOME / "audit" / "checkpoint.json")
).resolve()

# Content security policy (django-csp 4): only libcrm's own scripts, styles, images and fonts; no
# inline script or style (templates use classes and static files), no plugins, no framing, forms
# post only back to libcrm. Browsers refuse whatever an injected fragment would try to load.
_SELF, _NONE = "'self'", "'none'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_SELF],
        "script-src": [_SELF],
        "style-src": [_SELF],
        "img-src": [_SELF, "data:"],
        "font-src": [_SELF],
        "connect-src": [_SELF],
        "object-src": [_NONE],
        "base-uri": [_SELF],
        "form-action": [_SELF],
        "frame-ancestors": [_NONE],
    },
}
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("csp.middleware.CSPMiddleware") + 1,
    "libcrm.privacy.middleware.PermissionsPolicyMiddleware",
)
LIBCRM_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=()"
)
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# LIBCRM_PROFILE=production: everything `libcrm check --deploy` asks for. HTTPS only (redirect,
# HSTS for two years with subdomains and preload, secure cookies); DEBUG cannot be turned on;
# LIBCRM_ALLOWED_HOSTS must name the site and the secret key must be a real one, or libcrm
# refuses to start. Behind a TLS-terminating proxy, set LIBCRM_TLS_PROXY_HEADER=1 so that the
# proxy's X-Forwarded-Proto tells Django the request came in over HTTPS.
LIBCRM_PROFILE = os.environ.get("LIBCRM_PROFILE", "development").strip().lower()
if LIBCRM_PROFILE not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"LIBCRM_PROFILE must be 'development' or 'production', not {LIBCRM_PROFILE!r}"
    )
if LIBCRM_PROFILE == "production":
    if DEBUG:
        raise ImproperlyConfigured(
            "LIBCRM_DEBUG cannot be on with LIBCRM_PROFILE=production (it shows settings and "
            "data in error pages); unset LIBCRM_DEBUG"
        )
    if not os.environ.get("LIBCRM_ALLOWED_HOSTS", "").strip():
        raise ImproperlyConfigured(
            "LIBCRM_PROFILE=production needs LIBCRM_ALLOWED_HOSTS: the host names this site is "
            "reached by, comma-separated (e.g. library.example.org)"
        )
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5 or SECRET_KEY.startswith("django-"):
        raise ImproperlyConfigured(
            "LIBCRM_PROFILE=production needs a real secret key: LIBCRM_SECRET_KEY must be at "
            "least 50 random characters (or leave it unset to use the one in the key file)"
        )
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("LIBCRM_HSTS_SECONDS", 2 * 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True  # the console passes the token in the page (hx-headers, forms)
    if _env_bool("LIBCRM_TLS_PROXY_HEADER", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# --- end of the audit / security headers / production block ------------------------------------

# Pseudonymous, aggregate usage statistics apply to patrons of 14 and over until they say no
# (docs/privacy.md explains why); set this off to make them opt-in like every other purpose.
LIBCRM_CONSENT_ANALYTICS_DEFAULT = _env_bool("LIBCRM_CONSENT_ANALYTICS_DEFAULT", True)
