"""The government information resource catalogue (政务信息资源目录) of the Yuyao demo.

Each module holds the entries of one domain; `ENTRIES` concatenates them. An entry code is
"330281-" + the providing department's code + "-" + that department's 5-digit sequence, and stays stable.
"""

from __future__ import annotations

from smartcity.demo.catalog_seed import (
    city_management,
    civil_affairs,
    commerce_agriculture,
    culture_education,
    economy,
    government,
    grassroots,
    health,
    justice,
    legal_entities,
    market_regulation,
    mass_organisations,
    medical_services,
    natural_resources,
    population,
    public_safety,
    social_security,
    transport,
    urban,
)
from smartcity.demo.catalog_seed.fields import Entry

ENTRIES: tuple[Entry, ...] = (
    *population.ENTRIES,
    *public_safety.ENTRIES,
    *justice.ENTRIES,
    *social_security.ENTRIES,
    *civil_affairs.ENTRIES,
    *mass_organisations.ENTRIES,
    *health.ENTRIES,
    *medical_services.ENTRIES,
    *legal_entities.ENTRIES,
    *market_regulation.ENTRIES,
    *transport.ENTRIES,
    *natural_resources.ENTRIES,
    *urban.ENTRIES,
    *city_management.ENTRIES,
    *economy.ENTRIES,
    *commerce_agriculture.ENTRIES,
    *culture_education.ENTRIES,
    *government.ENTRIES,
    *grassroots.ENTRIES,
)
