"""CommonGuard settings.

One module, driven by environment variables (see `.env.example`). Nothing is special to
production in code: production behaviour comes from the environment. `SECRET_KEY` has no
default unless `COMMONGUARD_DEMO=1` (the local `make run` demo), and `DEBUG` defaults to false.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from environs import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()
env.read_env(str(BASE_DIR / ".env"), recurse=False)

DEMO = env.bool("COMMONGUARD_DEMO", default=False)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
if DEMO:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="commonguard-local-demo-only-not-for-production-use")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEMO or DEBUG else [])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The state this deployment serves (one deployment, one state). Two-letter postal code.
COMMONGUARD_STATE = env.str("COMMONGUARD_STATE", default="MI")
# Where the shared public data lives (Census, KEV, ATT&CK...). Absent on a user's machine.
COMMONGUARD_SHARED_DATA = Path(env.str("COMMONGUARD_SHARED_DATA", default=str(BASE_DIR.parent / "shared" / "data")))
COMMONGUARD_HUB_ID = env.str("COMMONGUARD_HUB_ID", default=f"commonguard-{COMMONGUARD_STATE.lower()}")  # federation
# Delivered federation outbox rows older than this are pruned by `federation_run` (ADR 30).
COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS = env.float("COMMONGUARD_FEDERATION_OUTBOX_RETENTION_DAYS", default=30)
# A TAXII POST of more objects than this runs on the worker; its status is `pending` until done (ADR 30).
COMMONGUARD_TAXII_ASYNC_OBJECTS = env.int("COMMONGUARD_TAXII_ASYNC_OBJECTS", default=1000)
COMMONGUARD_SITE_URL = env.str("COMMONGUARD_SITE_URL", default="http://127.0.0.1:8000")
# CISA KEV catalogue import (ADR 16): an http(s) URL or a file path (relative: to the project
# directory). Default: the shared data's copy when it is there; empty: the import does nothing.
_KEV_SHARED = COMMONGUARD_SHARED_DATA / "kev" / "known_exploited_vulnerabilities.json"
COMMONGUARD_KEV_SOURCE = env.str("COMMONGUARD_KEV_SOURCE", default=str(_KEV_SHARED) if _KEV_SHARED.exists() else "")
# Entries added to the catalogue longer ago than this are recorded as alerts without being sent.
COMMONGUARD_KEV_BACKFILL_DAYS = env.int("COMMONGUARD_KEV_BACKFILL_DAYS", default=7)
# The organisation KEV alerts are published for (its id); default: the state IT agency.
COMMONGUARD_KEV_AUTHOR_ORG = env.int("COMMONGUARD_KEV_AUTHOR_ORG", default=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "commonguard.core",
    "commonguard.orgs",
    "commonguard.accounts",
    "commonguard.sharing",
    "commonguard.interop",
    "commonguard.feeds",
    "commonguard.incidents",
    "commonguard.statutes",
    "commonguard.partnerships",
    "commonguard.federation",
    "commonguard.mutualaid",
    "commonguard.measurement",
    "commonguard.api",
    "commonguard.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "commonguard.accounts.middleware.MfaRequiredMiddleware",
    "commonguard.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # axes must be last: it turns lockouts into responses.
    "axes.middleware.AxesMiddleware",
]

# Calls with an API token (Bearer or Basic) under /api/ and /taxii2/ run through this shorter chain on
# COMMONGUARD_API_LANES threads per process (commonguard/core/lanes.py, ADR 36): no session, CSRF,
# messages, MFA redirect or CSP, which a token call never uses. Under ASGI only; the test client and
# WSGI run MIDDLEWARE for every request.
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "commonguard.core.middleware.RequestContextMiddleware",
]
API_LANES = env.int("COMMONGUARD_API_LANES", default=4)

ROOT_URLCONF = "commonguard.urls"
FORM_RENDERER = "commonguard.web.forms.UswdsRenderer"
ASGI_APPLICATION = "commonguard.asgi.application"
WSGI_APPLICATION = "commonguard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "commonguard" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "commonguard.web.context_processors.hub",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite (WAL) is the embedded default; PostgreSQL through DATABASE_URL in production.
SQLITE_PATH = Path(env.str("COMMONGUARD_SQLITE_PATH", default=str(BASE_DIR / "var" / "commonguard.sqlite3")))
DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    # COMMONGUARD_DB_POOL=N: a pool of at most N connections per process (psycopg_pool) instead of one
    # per thread; use it with many live-feed streams (ADR 18), where threads come and go by the hundred.
    DB_POOL = env.int("COMMONGUARD_DB_POOL", default=0)
    if DB_POOL:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": DB_POOL, "timeout": 30}
    else:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    # The hot queries and inserts of core/compiled.py bind their parameters on the server, and psycopg
    # prepares one it has run this many times on a connection (ADR 38); every other query binds on the
    # client, which never prepares. 0 turns preparing off (a pooler that cannot keep prepared
    # statements, such as PgBouncer in transaction mode before 1.21).
    _prepare = env.int("COMMONGUARD_DB_PREPARE_THRESHOLD", default=5)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = _prepare or None
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            # Keep a thread's connection between requests, as on PostgreSQL: a new one per request
            # costs its PRAGMAs and an empty page cache (half the CPU of a 1,000-object TAXII page).
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA busy_timeout=20000; PRAGMA cache_size=-20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "DJANGO_PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    ],
)
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Login throttling (django-axes) ----------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_USERNAME_FORM_FIELD = "username"
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False

# --- MFA (django-otp) ------------------------------------------------------------------------
OTP_TOTP_ISSUER = env.str("COMMONGUARD_OTP_ISSUER", default="CommonGuard")
OTP_TOTP_TOLERANCE = 1

# --- Sessions and cookies --------------------------------------------------------------------
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 12)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_COOKIES = env.bool("DJANGO_SECURE_COOKIES", default=not (DEMO or DEBUG))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not (DEMO or DEBUG))
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if (DEMO or DEBUG) else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("DJANGO_BEHIND_PROXY", default=False) else None
)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "commonguard.web.views.csrf_failure"

# --- Content-Security-Policy (django-csp 4): no unsafe-inline anywhere ------------------------
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# --- Static files (USWDS built by npm at install time, served by whitenoise) -----------------
STATIC_URL = "/static/"
# COMMONGUARD_PLAIN_STATIC (tests, benchmarks): the assets are served as built, through the finders,
# with no collectstatic. That mode gets a root of its own, empty: whitenoise indexes the root for every
# new handler (each test client), and the 16,000 files `make run` collects into var/static doubled the
# test suite's time on a machine that had run the demo.
PLAIN_STATIC = env.bool("COMMONGUARD_PLAIN_STATIC", default=False)
STATIC_ROOT = BASE_DIR / "var" / ("static-plain" if PLAIN_STATIC else "static")
if PLAIN_STATIC:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
STATICFILES_DIRS = [BASE_DIR / "assets" / "build"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if PLAIN_STATIC
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
MEDIA_ROOT = BASE_DIR / "var" / "media"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "commonguard.accounts.authentication.BearerTokenAuthentication",
        "commonguard.accounts.authentication.BasicTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["commonguard.api.permissions.IsVettedUser"],
    "DEFAULT_PAGINATION_CLASS": "commonguard.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "commonguard.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_THROTTLE_RATES": {"user": "6000/hour", "anon": "120/hour"},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CommonGuard API",
    "DESCRIPTION": (
        "The CommonGuard hub's REST API. Authenticate with a personal API token "
        "(`Authorization: Bearer <token>`, or HTTP Basic with the token as password) or a session. "
        "Everything you may not see answers 404, exactly like what does not exist."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its docs page need a signed-in person, like every other URL.
    "SERVE_PERMISSIONS": ["commonguard.api.permissions.IsVettedUser"],
    "ENUM_NAME_OVERRIDES": {
        "MembershipRoleEnum": "commonguard.accounts.models.Role",
        "ContactRoleEnum": "commonguard.orgs.models.ContactAssignment.Role",
        "OrganizationKindEnum": "commonguard.orgs.models.Organization.Kind",
        "AuditKindEnum": "commonguard.core.models.AuditEvent.Kind",
        "AlertStatusEnum": "commonguard.sharing.models.Alert.Status",
        "AlertCategoryEnum": "commonguard.sharing.models.Alert.Category",
        "AlertSeverityEnum": "commonguard.sharing.models.Alert.Severity",
        "IndicatorKindEnum": "commonguard.sharing.models.Indicator.Kind",
        "TlpEnum": "commonguard.core.tlp.TLP",
        "IncidentCategoryEnum": "commonguard.incidents.models.Category",
        "IncidentStatusEnum": "commonguard.incidents.models.IncidentReport.Status",
        "RelationshipRatingEnum": "commonguard.measurement.models.Rating",
    },
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and its assets come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Background work (django-tasks with the database backend) --------------------------------
TASKS = {
    "default": {
        "BACKEND": env.str("COMMONGUARD_TASK_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["flash", "default", "bulk"],
    }
}

# Alert fan-out (docs/adr/0015-delivery-claims-and-channels.md).
COMMONGUARD_FANOUT_PARALLEL = env.int("COMMONGUARD_FANOUT_PARALLEL", default=2)  # e-mail tasks per alert version
COMMONGUARD_SMTP_CONNECTIONS = env.int("COMMONGUARD_SMTP_CONNECTIONS", default=4)  # per e-mail task
COMMONGUARD_DELIVERY_LEASE_SECONDS = env.int("COMMONGUARD_DELIVERY_LEASE_SECONDS", default=120)
COMMONGUARD_RETRY_BASE_SECONDS = env.int("COMMONGUARD_RETRY_BASE_SECONDS", default=30)  # 30 s, 1, 2, 4, 8 min
COMMONGUARD_DIGEST_HOUR = env.int("COMMONGUARD_DIGEST_HOUR", default=7)  # local time of the daily digest
# Webhooks go to public https endpoints only; tests, benchmarks and the demo may allow loopback.
COMMONGUARD_WEBHOOK_ALLOW_PRIVATE = env.bool("COMMONGUARD_WEBHOOK_ALLOW_PRIVATE", default=DEMO)
# How often a web process looks for new live-feed events (seconds).
COMMONGUARD_LIVE_POLL_SECONDS = env.float("COMMONGUARD_LIVE_POLL_SECONDS", default=0.1)

# --- Mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("SMTP_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("SMTP_PORT", default=1025)
EMAIL_HOST_USER = env.str("SMTP_USER", default="")
EMAIL_HOST_PASSWORD = env.str("SMTP_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("SMTP_STARTTLS", default=False)
DEFAULT_FROM_EMAIL = env.str("COMMONGUARD_FROM_EMAIL", default="CommonGuard <hub@commonguard.invalid>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "ioc_finder": {"level": "WARNING"},
    },
}

# --- Feeds and MISP (docs/adr/0021-feed-and-misp-imports.md) ---------------------------------
# The most one pull of a feed (or one MISP event file, or an upload) may bring.
COMMONGUARD_FEED_MAX_BYTES = env.int("COMMONGUARD_FEED_MAX_BYTES", default=100 * 1024 * 1024)
