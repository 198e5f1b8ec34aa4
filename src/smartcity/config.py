"""Settings read from SMARTCITY_* environment variables (and an optional .env file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Every knob of the platform; README.md lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="SMARTCITY_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{PROJECT_ROOT / 'var' / 'smartcity.db'}",
        description="SQLAlchemy URL of the operational store; SQLite file by default, PostgreSQL in production.",
    )
    secret_key: str = Field(
        default="change-me-in-production",
        description="Signs CSRF tokens; set a long random value in production.",
    )
    host: str = Field(default="127.0.0.1", description="Address `smartcity serve` binds to.")
    port: int = Field(default=8000, description="Port `smartcity serve` binds to.")
    default_locale: str = Field(default="zh_CN", description="Console language when the browser sets none.")
    session_hours: int = Field(default=12, ge=1, description="Lifetime of a console login session.")
    cookie_secure: bool = Field(default=False, description="Mark cookies Secure (set true behind HTTPS).")
    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted JSON request body.")
    demo_admin_password: str = Field(
        default="yuyao-admin-2026",
        description="Password of the demo users created by `smartcity demo load`.",
    )
    login_max_failures: int = Field(
        default=5, description="Failed logins in a row after which an account is locked for 15 minutes."
    )
    data_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Folder for files the platform keeps: uploaded batches, extracted pulls.",
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="Time zone of dates and times in department data that carry none."
    )
    server_concurrency: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="requests one server process works on at once; the others wait their turn",
    )
    run_worker: bool = Field(
        default=True, description="`smartcity serve` also runs the background job worker (batches, scheduled pulls)."
    )
    ingest_max_file_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest file a department may submit as one batch; larger data goes in parts or by SQL pull.",
    )
    registry_match_threshold: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Match probability from which the base registries link two records without asking anyone.",
    )
    registry_review_threshold: float = Field(
        default=0.4,
        gt=0,
        lt=1,
        description="Match probability from which a pair the registries do not link goes to clerical review.",
    )
    exchange_rate_limit: float = Field(
        default=50.0,
        gt=0,
        description="Data-service requests per second one credential may make on average (more get 429).",
    )
    exchange_rate_burst: int = Field(
        default=100, ge=1, description="Data-service requests one credential may make at once before the rate applies."
    )
    exchange_max_page: int = Field(default=1000, ge=1, le=10_000, description="Most rows one data-service page holds.")
    exchange_push_attempts: int = Field(
        default=8, ge=1, le=20, description="Attempts to push one delivery to a webhook before it is a dead letter."
    )
    exchange_push_timeout: float = Field(default=10.0, gt=0, description="Seconds a webhook may take to answer.")
    iot_max_message_bytes: int = Field(
        default=4096, ge=64, le=1 << 20, description="Largest telemetry message a device may send (bytes)."
    )
    iot_max_clock_ahead_seconds: int = Field(
        default=300, ge=0, description="How far ahead of the platform's clock a device's timestamp may be."
    )
    iot_max_age_days: int = Field(default=7, ge=1, description="Oldest observation a device may still deliver (days).")
    iot_device_rate: float = Field(
        default=5.0, gt=0, description="Messages per second one device may send on average (more are refused)."
    )
    iot_device_burst: int = Field(default=60, ge=1, description="Messages one device may send at once.")
    iot_raw_days: int = Field(
        default=30, ge=7, description="Days raw telemetry is kept (minute and hour rollups stay)."
    )
    iot_minute_days: int = Field(default=180, ge=1, description="Days one-minute rollups are kept.")
    iot_hour_days: int = Field(default=3650, ge=1, description="Days one-hour rollups are kept.")
    mqtt_url: str = Field(
        default="",
        description="The MQTT broker devices publish to, e.g. mqtt://127.0.0.1:1883; empty: `smartcity serve` "
        "starts an embedded broker (amqtt) for development.",
    )
    mqtt_consume: bool = Field(
        default=True, description="Whether `smartcity serve` stores the telemetry devices publish over MQTT."
    )
    mqtt_embedded_port: int = Field(
        default=1884, ge=1, le=65535, description="Port of the embedded broker (used when SMARTCITY_MQTT_URL is empty)."
    )
    mqtt_topic_prefix: str = Field(
        default="smartcity", description="Devices publish to <prefix>/devices/<device code>/telemetry."
    )
    town_areas_file: Path | None = Field(
        default=None,
        description="GeoJSON of the city's town areas for maps and point-in-town checks; empty: the shipped "
        "approximate areas of Yuyao's 21 towns.",
    )
    ngsild_context_map: Path | None = Field(
        default=None,
        description="A JSON file mapping public @context URLs to local files, so the NGSI-LD broker serves clients "
        "that name a public context from the local copy (it never fetches one).",
    )
    ngsild_default_limit: int = Field(
        default=20, ge=1, le=1000, description="Entities per NGSI-LD query page by default."
    )
    ngsild_max_limit: int = Field(
        default=1000, ge=1, le=10_000, description="Most entities one NGSI-LD query page holds."
    )
    ngsild_max_batch: int = Field(default=1000, ge=1, description="Most entities one NGSI-LD batch operation takes.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address people and clients reach the platform at (links in the open-data API and DCAT).",
    )
    open_data_license: str = Field(
        default="cc-by-4.0", description="The licence id open data is published under (shown to CKAN clients)."
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings object."""
    return Settings()
