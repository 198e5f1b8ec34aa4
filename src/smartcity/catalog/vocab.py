"""Controlled vocabularies of the catalogue, with their zh-CN names as message ids."""

from __future__ import annotations

import enum

from smartcity.platform.i18n import N_


class SharingType(enum.StrEnum):
    """共享类型 (sharing type) as the national guideline for government resource catalogues defines it."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NONE = "none"


class OpenType(enum.StrEnum):
    """开放类型 (open type)."""

    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NONE = "none"


class UpdateCycle(enum.StrEnum):
    """更新周期."""

    REALTIME = "realtime"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMIANNUAL = "semiannual"
    YEARLY = "yearly"
    IRREGULAR = "irregular"


class ResourceFormat(enum.StrEnum):
    """信息资源格式."""

    TABLE = "table"
    FILE = "file"
    API = "api"


class FieldType(enum.StrEnum):
    """Data type of a field (数据项类型)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"


LABELS: dict[str, dict[str, str]] = {
    "sharing_type": {
        SharingType.UNCONDITIONAL: N_("Unconditional sharing"),
        SharingType.CONDITIONAL: N_("Conditional sharing"),
        SharingType.NONE: N_("Not shared"),
    },
    "open_type": {
        OpenType.UNCONDITIONAL: N_("Open to all"),
        OpenType.CONDITIONAL: N_("Open on conditions"),
        OpenType.NONE: N_("Not open"),
    },
    "update_cycle": {
        UpdateCycle.REALTIME: N_("Real time"),
        UpdateCycle.DAILY: N_("Daily"),
        UpdateCycle.WEEKLY: N_("Weekly"),
        UpdateCycle.MONTHLY: N_("Monthly"),
        UpdateCycle.QUARTERLY: N_("Quarterly"),
        UpdateCycle.SEMIANNUAL: N_("Half-yearly"),
        UpdateCycle.YEARLY: N_("Yearly"),
        UpdateCycle.IRREGULAR: N_("Irregular"),
    },
    "format": {
        ResourceFormat.TABLE: N_("Database table"),
        ResourceFormat.FILE: N_("Electronic file"),
        ResourceFormat.API: N_("API service"),
    },
    "field_type": {
        FieldType.STRING: N_("Text"),
        FieldType.INTEGER: N_("Integer"),
        FieldType.DECIMAL: N_("Decimal"),
        FieldType.BOOLEAN: N_("Yes/no"),
        FieldType.DATE: N_("Date"),
        FieldType.DATETIME: N_("Date and time"),
    },
}
