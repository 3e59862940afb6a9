"""Settings, read strictly from the environment (see README, "Configuration").

Anything missing or malformed stops start-up with an ImproperlyConfigured error naming the setting.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from infraplan.core import env
from infraplan.core.profile import load_profile
from infraplan.sso.conf import form_action_origins, openid_connect_apps

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env.secret("SECRET_KEY")
DEBUG = env.boolean("DEBUG", default=False)
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", default=[])

AUTHORITY_PROFILE_PATH = Path(
    env.string("AUTHORITY_PROFILE", default=str(BASE_DIR / "profiles" / "kent-medway.toml"))
)
AUTHORITY_PROFILE = load_profile(AUTHORITY_PROFILE_PATH)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_gis",
    "procrastinate.contrib.django",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "infraplan.core",
    "infraplan.accounts",
    "infraplan.audit",
    "infraplan.catalogue",
    "infraplan.connectors",
    "infraplan.maps",
    "infraplan.insights",
    "infraplan.places",
    "infraplan.tokens",
    "infraplan.sso",
    "infraplan.exports",
    "infraplan.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "infraplan.core.middleware.StaticFilesMiddleware",  # WhiteNoise
    "infraplan.insights.middleware.UsageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "infraplan.tokens.middleware.TokenAuthenticationMiddleware",
    "infraplan.core.middleware.PrivateByDefaultMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "infraplan.accounts.middleware.SessionLifetimeMiddleware",
    "infraplan.accounts.two_factor.AdminTwoFactorMiddleware",
    "infraplan.sso.middleware.ReauthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "infraplan.core.middleware.MethodNotAllowedPageMiddleware",  # last: sees the view's response
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "infraplan.core.context_processors.authority",
            ],
        },
    },
]

DATABASES = {"default": env.database_url("DATABASE_URL")}
DATABASES["default"]["TEST"] = {"NAME": env.string("TEST_DATABASE_NAME", default="test_infraplan")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]  # NCSC guidance: a minimum length and a deny-list; no composition rules, no expiry
AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# django-allauth: people sign in with their work email address (the user model has no username);
# an address must be verified before the account is used, and no page reveals whether an address
# has an account.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
ACCOUNT_SESSION_REMEMBER = False  # sessions end with the browser or after SESSION_COOKIE_AGE
ACCOUNT_EMAIL_NOTIFICATIONS = True  # tell people when their password, address or 2FA changes
ACCOUNT_ADAPTER = "infraplan.accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "add_email": "infraplan.accounts.forms.AddEmailForm",
    "login": "infraplan.accounts.forms.LoginForm",
    "signup": "infraplan.accounts.forms.SignupForm",
    "change_password": "infraplan.accounts.forms.ChangePasswordForm",
    "reset_password_from_key": "infraplan.accounts.forms.ResetPasswordKeyForm",
    "set_password": "infraplan.accounts.forms.SetPasswordForm",
    "reset_password": "infraplan.accounts.forms.ResetPasswordForm",
    "reauthenticate": "infraplan.accounts.forms.ReauthenticateForm",
    "confirm_reauthentication_code": "infraplan.accounts.forms.ConfirmReauthenticationCodeForm",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{AUTHORITY_PROFILE.authority.service_name}] "
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", default="infraplan@localhost")
# Outgoing email (verification links, registrations to approve, decisions): printed to the
# console unless EMAIL_BACKEND names SMTP, whose server is then EMAIL_HOST and friends.
_EMAIL_BACKEND = env.string(
    "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
_EMAIL_OPTIONS = {}
if _EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend":
    _EMAIL_OPTIONS = {
        "host": env.string("EMAIL_HOST"),
        "port": env.integer("EMAIL_PORT", default=587, minimum=1, maximum=65535),
        "use_tls": env.boolean("EMAIL_USE_TLS", default=True),
        "timeout": env.integer("EMAIL_TIMEOUT", default=10, minimum=1),
    }
    if env.string("EMAIL_HOST_USER", default=""):
        _EMAIL_OPTIONS["username"] = env.string("EMAIL_HOST_USER")
        _EMAIL_OPTIONS["password"] = env.secret("EMAIL_HOST_PASSWORD")
MAILERS = {"default": {"BACKEND": _EMAIL_BACKEND, "OPTIONS": _EMAIL_OPTIONS}}
# The service's own address, for links in emails sent outside a request.
SITE_URL = env.string("SITE_URL", default="http://127.0.0.1:8000")

# One cache shared by every worker and machine (a table in the database), so lockouts and rate
# limits count every attempt wherever it lands. The table is made by a migration.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "infraplan_cache",
    }
}
# The client's address, for the rate limits below, security events and the usage log's visitor
# code (infraplan.audit.security.client_address, which is django-allauth's rule). Behind proxies
# every request comes from the nearest proxy's address: name how many proxies of the
# deployment's own append to X-Forwarded-For (its right-most entries are theirs, the one before
# them the client's), or a header the nearest proxy sets to the client's address. With neither,
# X-Forwarded-For is ignored: a client can write anything in it.
ALLAUTH_TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", default=0, minimum=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.string("TRUSTED_CLIENT_IP_HEADER", default="") or None
if ALLAUTH_TRUSTED_PROXY_COUNT and ALLAUTH_TRUSTED_CLIENT_IP_HEADER:
    raise ImproperlyConfigured("Set TRUSTED_PROXY_COUNT or TRUSTED_CLIENT_IP_HEADER, not both.")

# Lockout and rate limits (django-allauth, counted in the default cache): an account is locked
# for LOGIN_LOCKOUT_MINUTES after LOGIN_FAILURES_LIMIT failed sign-ins, and so is a client
# address after 20 failed sign-ins to any accounts (the message says "try again in
# LOGIN_LOCKOUT_MINUTES minutes" for both); registration and password reset are limited per
# client address and per email address.
LOGIN_FAILURES_LIMIT = env.integer("LOGIN_FAILURES_LIMIT", default=5, minimum=1)
LOGIN_LOCKOUT_MINUTES = env.integer("LOGIN_LOCKOUT_MINUTES", default=15, minimum=1)
_LOCKOUT = f"{LOGIN_LOCKOUT_MINUTES * 60}s"
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": f"20/{_LOCKOUT}/ip,{LOGIN_FAILURES_LIMIT}/{_LOCKOUT}/key",
    "signup": "20/h/ip",
    "reset_password": "20/h/ip,3/h/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "reauthenticate": "10/m/user",
}
# Two-factor authentication: TOTP with recovery codes; required of admins before any admin
# function (infraplan.accounts.two_factor), which covers these paths as well as its own views.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_FORMS = {
    "authenticate": "infraplan.accounts.forms.MfaAuthenticateForm",
    "reauthenticate": "infraplan.accounts.forms.MfaReauthenticateForm",
    "activate_totp": "infraplan.accounts.forms.ActivateTOTPForm",
}
MFA_TOTP_ISSUER = AUTHORITY_PROFILE.authority.service_name
# A code is accepted for one period either side of now (RFC 6238's one step of clock drift), so
# a code that changes while it is typed still signs in; a code once used is refused all the same.
MFA_TOTP_TOLERANCE = 1
TWO_FACTOR_PATH_PREFIXES = ["/admin/", "/audit/"]

# Single sign-on over OpenID Connect (infraplan.sso, docs/sso.md): providers from SSO_PROVIDERS
# and SSO_<ID>_* variables, through our provider class (nonce, signature always checked).
# Accounts are keyed on the provider's identity and never joined to another by email.
SSO_APPS = openid_connect_apps()
SOCIALACCOUNT_PROVIDERS = {
    "openid_connect": {"provider_class": "infraplan.sso.oidc.Provider", "APPS": SSO_APPS}
}
SOCIALACCOUNT_ADAPTER = "infraplan.sso.adapter.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = False
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # the provider vouches for the person, not the address
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_REQUESTS_TIMEOUT = 10
# How long the provider's word lasts: after this many seconds the next page goes back to it.
SSO_REAUTHENTICATE_AFTER = env.integer("SSO_REAUTHENTICATE_AFTER", default=3600, minimum=60)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "build"]
# A folder of the authority's own static files, outside the source tree: the profile's logo, say
# (its `logo` is a path under this folder). Collected with the rest by collectstatic.
BRANDING_STATIC_DIR = env.string("BRANDING_STATIC_DIR", default="")
if BRANDING_STATIC_DIR:
    if not Path(BRANDING_STATIC_DIR).is_dir():
        raise ImproperlyConfigured(
            f"BRANDING_STATIC_DIR is {BRANDING_STATIC_DIR!r}, which is not a folder."
        )
    STATICFILES_DIRS.append(Path(BRANDING_STATIC_DIR))
# Files officers upload and files given to `infraplan ingest`: private, never served as media.
UPLOAD_ROOT = Path(env.string("UPLOAD_ROOT", default=str(BASE_DIR / "uploads")))
# The largest file an officer may upload; the upload handler stops reading past it.
UPLOAD_MAX_BYTES = env.integer("UPLOAD_MAX_BYTES", default=500 * 1024 * 1024, minimum=1)
# The most features a download made whole before it is sent (XLSX, GeoPackage, PNG) may hold;
# CSV and GeoJSON are streamed and have no limit (infraplan.exports).
EXPORT_MAX_FEATURES = env.integer("EXPORT_MAX_FEATURES", default=250_000, minimum=1)
# How many heavy requests (downloads, pictures of the map, large OGC API pages) all web processes
# work on at once; more get a 503 to retry (infraplan.core.heavy). Fewer than the processes, so
# one is always free for pages and health checks.
HEAVY_REQUEST_SLOTS = env.integer("HEAVY_REQUEST_SLOTS", default=2, minimum=1)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "zip",
    "gz",
    "tgz",
    "bz2",
    "tbz",
    "xz",
    "br",
    "swf",
    "flv",
    "woff",
    "woff2",
    "pmtiles",
    "pbf",
    "mvt",
]

# Security headers and cookies. SECURE_COOKIES defaults to on outside DEBUG; turn it off only
# for plain-http local serving (make run does so for http://127.0.0.1).
SECURE_COOKIES = env.boolean("SECURE_COOKIES", default=not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", default=8 * 3600, minimum=300)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# HSTS is sent only on HTTPS responses. A year, subdomains included, outside DEBUG.
SECURE_HSTS_SECONDS = env.integer(
    "SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.boolean("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# "preload" only matters if someone submits the registrable domain to the browsers' list.
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", default=True)
# Secure cookies mean the service is meant to be reached over HTTPS only: plain http is then
# redirected (make run, on plain http, turns both off). Load balancers probe /healthz over http.
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", default=SECURE_COOKIES)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.boolean("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Strict Content-Security-Policy: scripts only from this origin or carrying the per-request
# nonce; no inline script or style; the map's worker is a file of ours, not a blob.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    # The authority's basemap, if its profile names one, is fetched by the map from its origin.
    "img-src": [CSP.SELF, "data:", "blob:", *AUTHORITY_PROFILE.map.basemap_origins],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF, *AUTHORITY_PROFILE.map.basemap_origins],
    "worker-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    # The single sign-on button's form is redirected to the provider's sign-in page.
    "form-action": [CSP.SELF, *form_action_origins(SSO_APPS)],
    "frame-ancestors": [CSP.NONE],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "infraplan.tokens.drf.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Usage log: a keyed hash stands in for the client address so unique visitors can be counted
# without storing an IP address.
USAGE_LOG_ENABLED = env.boolean("USAGE_LOG_ENABLED", default=True)
USAGE_LOG_FLUSH_SECONDS = env.integer("USAGE_LOG_FLUSH_SECONDS", default=5, minimum=1)
# Tiles already made, kept in each web process (maps/tile_cache.py); 0 turns the cache off.
TILE_CACHE_MB = env.integer("TILE_CACHE_MB", default=64, minimum=0)
# Public layers' tiles answered ahead of Django (maps/public_tiles.py): which layers are public
# is kept in each web process, dropped on every catalogue change and at most this long.
PUBLIC_LAYER_SECONDS = env.integer("PUBLIC_LAYER_SECONDS", default=60, minimum=0)

# gis.W001: Debian 12's GDAL (3.6) cannot block file and network access. User-supplied files are
# read with pyogrio's own GDAL after validation, and no user input reaches GDAL through Django.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Outbound fetches by data connectors (infraplan.connectors.fetch): only these hosts (exact names
# or "*.domain"), never a private or local address unless its host is also in OUTBOUND_PRIVATE_HOSTS
# (a host alone: any port; "host:port" or "[IPv6]:port": that port only).
OUTBOUND_ALLOWED_HOSTS = env.string_list(
    "OUTBOUND_ALLOWED_HOSTS",
    default=["planning.data.gov.uk", "www.planning.data.gov.uk", "files.planning.data.gov.uk"],
)
OUTBOUND_PRIVATE_HOSTS = env.string_list("OUTBOUND_PRIVATE_HOSTS", default=[])
OUTBOUND_MAX_BYTES = env.integer("OUTBOUND_MAX_BYTES", default=500 * 1024 * 1024, minimum=1)
# A page of JSON (OGC API, ArcGIS, planning.data.gov.uk) is parsed whole, into about ten times
# its size in memory: a page over this is refused, asking for fewer features per request.
OUTBOUND_JSON_MAX_BYTES = env.integer(
    "OUTBOUND_JSON_MAX_BYTES", default=64 * 1024 * 1024, minimum=1
)

# Loads on the task queue (infraplan.connectors): a temporary failure (a timeout, a 503) is tried
# again up to INGEST_RETRY_ATTEMPTS times in all, waiting INGEST_RETRY_WAIT_SECONDS, then twice
# that, four times ... between attempts.
INGEST_RETRY_ATTEMPTS = env.integer("INGEST_RETRY_ATTEMPTS", default=5, minimum=1)
INGEST_RETRY_WAIT_SECONDS = env.integer("INGEST_RETRY_WAIT_SECONDS", default=60, minimum=1)
# A source's schedule may load it at most once in this many minutes: a cron of every minute
# would weigh on the service it reads and fill the queue.
SOURCE_MIN_INTERVAL_MINUTES = env.integer("SOURCE_MIN_INTERVAL_MINUTES", default=60, minimum=1)
# Days the stored problems of a load that was not published (rejected or failed) are kept after
# it ended; then a daily task deletes them and its pages list the first ones its report keeps
# (infraplan.catalogue.problem_retention). A published version keeps every one.
LOAD_PROBLEMS_KEPT_DAYS = env.integer("LOAD_PROBLEMS_KEPT_DAYS", default=90, minimum=1)

# Security events (infraplan.audit.security) as JSON lines: a file a monitoring system reads.
SECURITY_EVENT_LOG = env.string("SECURITY_EVENT_LOG", default="")
if SECURITY_EVENT_LOG and not Path(SECURITY_EVENT_LOG).parent.is_dir():
    # Said here: logging's own error ("Unable to configure handler 'security'") names neither.
    raise ImproperlyConfigured(
        f"SECURITY_EVENT_LOG is {SECURITY_EVENT_LOG!r}, whose folder does not exist."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json_line": {"format": "%(message)s"},  # the message already is one line of JSON
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security": (
            {
                "class": "logging.FileHandler",
                "filename": SECURITY_EVENT_LOG,
                "formatter": "json_line",
            }
            if SECURITY_EVENT_LOG
            else {"class": "logging.StreamHandler", "formatter": "json_line"}
        ),
    },
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", default="INFO")},
    "loggers": {
        "procrastinate": {"level": "WARNING"},
        "infraplan.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
    },
}
# API tokens (infraplan.tokens): the longest a token may last.
API_TOKEN_MAX_DAYS = env.integer("API_TOKEN_MAX_DAYS", default=365, minimum=1, maximum=3650)

DEMO_DATA_DIR = Path(env.string("DEMO_DATA_DIR", default=str(BASE_DIR / "data")))
