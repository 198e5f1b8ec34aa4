"""Devices, their telemetry and what was refused of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from smartcity.db import Base, UTCDateTime, utcnow


class Device(Base):
    """A registered device (物联网设备): its type, owner, place, credential and the state it last reported."""

    __tablename__ = "iot_device"
    __table_args__ = (Index("ix_iot_device_department_type", "department_id", "type_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type_code: Mapped[str] = mapped_column(String(40))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    town_code: Mapped[str | None] = mapped_column(String(12), index=True)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the device's credential
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    battery_level: Mapped[float | None] = mapped_column(Float)
    rssi: Mapped[float | None] = mapped_column(Float)
    accepted: Mapped[int] = mapped_column(Integer, default=0)  # messages stored
    rejected: Mapped[int] = mapped_column(Integer, default=0)  # messages refused


class Measurement(Base):
    """One value a device reported at one time (raw telemetry). The key makes a message delivered twice (MQTT QoS 1
    after a restart) a no-op: the same device, measure and time is stored once."""

    __tablename__ = "iot_measurement"

    device_id: Mapped[int] = mapped_column(ForeignKey("iot_device.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    number: Mapped[float | None] = mapped_column(Float)  # numbers, integers and booleans (1.0 / 0.0)
    text: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RejectionCount(Base):
    """How many messages presented as one device code were refused for one reason, and the last of them. Keyed by
    the code as presented, so messages for devices that do not exist are counted too."""

    __tablename__ = "iot_rejection"

    device_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_detail: Mapped[str] = mapped_column(Text, default="")


class Rollup(Base):
    """A measure of a device summed up over one minute or one hour (downsampled telemetry): kept in the same
    transaction as the raw values it counts, so charts over long ranges read few rows."""

    __tablename__ = "iot_rollup"

    device_id: Mapped[int] = mapped_column(ForeignKey("iot_device.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer, primary_key=True)  # 60 or 3600
    bucket: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)  # the start of the minute or hour
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)


class Latest(Base):
    """The newest value of each measure of each device (what rules evaluate and the live state shows)."""

    __tablename__ = "iot_latest"

    device_id: Mapped[int] = mapped_column(ForeignKey("iot_device.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    observed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    number: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str | None] = mapped_column(String(40))


class Rule(Base):
    """An alarm rule (告警规则) of a department: for a device type or one device, a condition on its latest values
    (thresholds, rates of change, all of several) that must hold for `for_minutes`, or silence for
    `silent_minutes` (heartbeat)."""

    __tablename__ = "iot_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    device_type: Mapped[str | None] = mapped_column(String(40), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("iot_device.id"), index=True)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # all must hold
    for_minutes: Mapped[int] = mapped_column(Integer, default=0)
    silent_minutes: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(12))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_url: Mapped[str | None] = mapped_column(String(500))  # alarms raised and cleared are posted here
    webhook_secret_sealed: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleState(Base):
    """Since when a rule's condition has held for a device (None: it does not hold now)."""

    __tablename__ = "iot_rule_state"

    rule_id: Mapped[int] = mapped_column(ForeignKey("iot_rule.id"), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("iot_device.id"), primary_key=True)
    holding_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Alarm(Base):
    """An alarm (告警): raised by a rule for a device, acknowledged by a person, cleared when the condition ends.
    `open_key` is set while the alarm is not cleared, so a device has one open alarm per rule."""

    __tablename__ = "iot_alarm"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("iot_rule.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("iot_device.id"), index=True)
    severity: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(14), index=True)
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cleared_by: Mapped[str | None] = mapped_column(String(100))
