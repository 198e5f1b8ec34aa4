"""Devices, their telemetry and what was refused of it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
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
