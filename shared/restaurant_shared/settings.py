"""Configuration: every environment variable the services read, validated once at start-up."""

from functools import lru_cache
from typing import Annotated, Literal
from urllib.parse import SplitResult, urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ConfigurationError(RuntimeError):
    """Raised at start-up when the environment is missing a variable or holds a bad value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # Postgres. POSTGRES_AUTH chooses how the password is obtained, explicitly: "password" uses
    # POSTGRES_PASSWORD; "entra" asks the managed identity for a token on every new connection.
    postgres_host: str
    postgres_port: int = Field(default=5432, ge=1, le=65535)
    postgres_db: str
    postgres_user: str
    postgres_password: SecretStr | None = None
    postgres_sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "prefer"
    postgres_auth: Literal["password", "entra"] = "password"

    # Blob storage: a connection string (Azurite locally) or an account URL used with the identity.
    azure_storage_connection_string: SecretStr | None = None
    azure_storage_account_url: str | None = None
    azure_client_id: str | None = None
    storage_uploads_container: str = Field(default="uploads", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")
    storage_thumbnails_container: str = Field(default="thumbnails", pattern=r"^[a-z0-9](?:[a-z0-9-]{1,61})[a-z0-9]$")

    # Task queue: redis://... locally, azurestoragequeues://DefaultAzureCredential@https://... in Azure.
    celery_broker_url: str
    # How often the Azure Storage Queue transport polls an empty queue (its default is 1 s).
    celery_broker_polling_interval: float = Field(default=0.2, gt=0, le=30)

    # Uploads and thumbnails.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photos_per_review: int = Field(default=5, ge=0, le=5)
    max_image_pixels: int = Field(default=50_000_000, ge=1)
    thumbnail_sizes: Annotated[list[int], NoDecode] = [320, 1280]
    thumbnail_quality: int = Field(default=80, ge=1, le=100)

    # How browsers get thumbnails: streamed through the web app, or redirected to a short-lived SAS.
    photo_delivery: Literal["stream", "sas"] = "stream"
    photo_sas_ttl_seconds: int = Field(default=600, ge=60, le=3600)

    # Reliability: the sweeper re-enqueues photos stuck longer than this; orphan raw blobs older than
    # the grace period are deleted.
    sweep_interval_seconds: float = Field(default=60, gt=0)
    stuck_photo_after_seconds: float = Field(default=300, gt=0)
    orphan_blob_grace_seconds: float = Field(default=3600, gt=0)
    task_max_retries: int = Field(default=5, ge=0, le=20)
    # A photo whose processing has started this many times without finishing is marked failed: it keeps
    # killing workers (out of memory, say) and must not loop forever.
    photo_max_attempts: int = Field(default=8, ge=1, le=100)
    # Worker processes per worker container; unset means one per CPU.
    worker_concurrency: int | None = Field(default=None, ge=1, le=64)

    # Web. Posting reviews and reports is limited per client address ("20/minute", "20/minute;100/hour"; empty: no
    # limit). The counts live in RATE_LIMIT_STORAGE_URL: memory:// counts per web process, redis://...
    # shares them between processes and replicas.
    rate_limit_reviews: str = "20/minute"
    rate_limit_reports: str = "10/minute"
    rate_limit_storage_url: str = Field(default="memory://", pattern=r"^(memory|redis|rediss)://")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The site's public origin (scheme, host, optional port), the only source of the absolute URLs that
    # canonical links, share previews, structured data and sitemaps carry. Unset, they come from the
    # request's Host header: fine on a laptop, but behind a CDN that is the origin's name, and anyone can
    # send any Host, which a shared cache would then serve to everyone.
    public_base_url: str | None = None

    # Moderation. "platform": App Service / Container Apps authentication signs moderators in and puts the
    # principal in X-MS-CLIENT-PRINCIPAL (the platform strips that header from clients' requests, so it is
    # trusted only in this mode); a moderator has MODERATOR_ROLE in its roles claim. "none": no one is
    # signed in and moderation is off (visitors can still report).
    auth_mode: Literal["none", "platform"] = "none"
    moderator_role: str = Field(default="Moderator", min_length=1, max_length=128)

    # Telemetry (OpenTelemetry traces, metrics and logs); nothing is exported unless one is set. Azure Monitor
    # authenticates with the managed identity, so its connection string only names the resource. The OTel
    # SDK reads its other standard OTEL_* variables itself (sampler, batch delays, export headers).
    applicationinsights_connection_string: SecretStr | None = None
    otel_exporter_otlp_endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = "http/protobuf"
    # Unset: each service names itself (restaurant-web, restaurant-worker).
    otel_service_name: str | None = None

    @field_validator("thumbnail_sizes", mode="before")
    @classmethod
    def _split_sizes(cls, value: object) -> object:
        if isinstance(value, str):
            return [int(part) for part in value.replace(" ", "").split(",") if part]
        return value

    @field_validator("thumbnail_sizes")
    @classmethod
    def _check_sizes(cls, sizes: list[int]) -> list[int]:
        if not sizes or any(not 16 <= size <= 4096 for size in sizes):
            raise ValueError("give one or more sizes between 16 and 4096, e.g. 320,1280")
        return sorted(set(sizes))

    @field_validator(
        "azure_client_id",
        "azure_storage_account_url",
        "applicationinsights_connection_string",
        "otel_exporter_otlp_endpoint",
        "otel_service_name",
        "public_base_url",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if not _is_origin(parts):
            raise ValueError("give the site's origin, e.g. https://reviews.example.com")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("give only scheme, host and port, without a path, e.g. https://reviews.example.com")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @model_validator(mode="after")
    def _check_combinations(self) -> "Settings":
        if (self.azure_storage_connection_string is None) == (self.azure_storage_account_url is None):
            raise ValueError(
                "set exactly one of AZURE_STORAGE_CONNECTION_STRING (local development) "
                "or AZURE_STORAGE_ACCOUNT_URL (managed identity)"
            )
        if self.postgres_auth == "password" and self.postgres_password is None:
            raise ValueError("POSTGRES_PASSWORD is required when POSTGRES_AUTH=password")
        if self.postgres_auth == "entra" and self.postgres_password is not None:
            raise ValueError("POSTGRES_PASSWORD must be unset when POSTGRES_AUTH=entra (the token is the password)")
        return self

    @property
    def uses_identity_for_storage(self) -> bool:
        return self.azure_storage_connection_string is None


def _is_origin(parts: SplitResult) -> bool:
    try:
        port = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        return False
    valid_port = port is None or port > 0
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc and valid_port


def load_settings() -> Settings:
    """Read the environment, turning validation errors into one message that names each variable."""
    try:
        return Settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = "_".join(str(part) for part in error["loc"]).upper() or "configuration"
            problems.append(f"{variable}: {error['msg']}")
        raise ConfigurationError("Invalid configuration:\n  " + "\n  ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
