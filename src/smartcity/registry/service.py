"""The base registries' rules: feeds, survivorship, search, golden records with sources and history, review."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from smartcity.catalog import service as catalog
from smartcity.db import utcnow
from smartcity.ingest import service as hub
from smartcity.platform import masking
from smartcity.platform.audit import service as audit
from smartcity.platform.errors import Conflict, InvalidInput, NotFound
from smartcity.platform.i18n import N_
from smartcity.platform.identity import service as identity
from smartcity.platform.identity.principal import Principal
from smartcity.platform.jobs import service as jobs
from smartcity.platform.paging import PageParams, fetch_page
from smartcity.registry import resolve as resolver
from smartcity.registry.address.parse import parse_address
from smartcity.registry.models import Feed, Golden, GoldenVersion, ReviewPair, Run, SourceRecord, SurvivorshipRule
from smartcity.registry.permissions import REGISTRY_MANAGE, REGISTRY_PLAIN, REGISTRY_READ, REGISTRY_REVIEW
from smartcity.registry.schemas import (
    AddressParsed,
    FeedIn,
    FeedRead,
    GoldenRead,
    GoldenSummary,
    LineageRead,
    ReviewDecision,
    ReviewRead,
    RunRead,
    SourceRead,
    SurvivorshipIn,
)
from smartcity.registry.vocab import ATTRIBUTES, PERSONAL, Kind, ReviewStatus, Survivorship

RESOLVE_JOB = "registry.resolve"
ADDRESS_PARTS = ("province", "city", "district", "town", "village", "road", "number")
MASKS = {
    "resident_id": masking.mask_resident_id,
    "full_name": masking.mask_name,
    "legal_rep": masking.mask_name,
    "phone": masking.mask_phone,
    "address": masking.mask_address,
}


def shows_plain(principal: Principal) -> bool:
    """Whether `principal` sees personal fields unmasked."""
    return principal.can(REGISTRY_PLAIN)


def masked(kind: Kind, values: dict[str, Any], plain: bool) -> dict[str, Any]:
    """`values` with the personal attributes of `kind` masked, unless `plain`."""
    if plain:
        return dict(values)
    out = {}
    for attribute, value in values.items():
        mask = MASKS.get(attribute) if attribute in PERSONAL[kind] else None
        out[attribute] = mask(str(value)) if mask and value is not None else value
    return out


def _department_names(session: Session, ids: set[int]) -> dict[int, str]:
    return {i: d.name for i, d in identity.departments_by_id(session, ids).items()}


# --- feeds and survivorship ----------------------------------------------------------------------------------------


def _feed_read(feed: Feed) -> FeedRead:
    return FeedRead.model_validate(feed, from_attributes=True)


def list_feeds(session: Session, *, by: Principal, kind: Kind | None = None) -> list[FeedRead]:
    """The feeds of one registry or all, most trusted first."""
    by.require(REGISTRY_READ)
    stmt = select(Feed).order_by(Feed.kind, Feed.trust, Feed.entry_code)
    if kind is not None:
        stmt = stmt.where(Feed.kind == kind)
    return [_feed_read(f) for f in session.scalars(stmt)]


def save_feed(session: Session, *, by: Principal, kind: Kind, data: FeedIn) -> FeedRead:
    """Declare (or change) which fields of a catalogue entry feed which attributes of registry `kind`."""
    by.require(REGISTRY_MANAGE)
    ev = hub.entry_version(session, by=by, code=data.entry_code)
    known = ATTRIBUTES[kind]
    fields = {f.name for f in ev.fields}
    for attribute, field_name in data.attributes.items():
        if attribute not in known:
            raise InvalidInput(
                N_("'{attribute}' is not an attribute of this registry; it has {known}."),
                field=f"attributes.{attribute}",
                attribute=attribute,
                known=", ".join(known),
            )
        if field_name not in fields:
            raise InvalidInput(
                N_("Entry {code} has no field '{name}'."),
                field=f"attributes.{attribute}",
                code=data.entry_code,
                name=field_name,
            )
    identifying = [a for a in list(known)[:2] if a in data.attributes]
    if not identifying:
        raise InvalidInput(
            N_("A feed must map the identifier or the name ({attributes})."),
            field="attributes",
            attributes=", ".join(list(known)[:2]),
        )
    feed = session.scalars(select(Feed).where(Feed.kind == kind, Feed.entry_code == ev.code)).one_or_none()
    if feed is None:
        feed = Feed(kind=kind.value, entry_code=ev.code)
        session.add(feed)
    feed.attributes = dict(data.attributes)
    feed.trust = data.trust
    feed.active = data.active
    feed.updated_by = by.actor().label
    feed.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="registry.feed.save",
        target_type="registry_feed",
        target_id=feed.id,
        detail={"kind": kind.value, "entry": ev.code, "attributes": feed.attributes, "trust": feed.trust},
    )
    return _feed_read(feed)


@dataclass
class FeedForm:
    """What the console's feed form shows: the entry's fields, and which one carries each attribute (the saved
    feed's mapping, or for a new feed the field of the attribute's own name)."""

    kind: Kind
    entry_code: str
    entry_name: str
    fields: list[tuple[str, str]]  # (name, title) of the entry's current version
    attributes: dict[str, str]
    trust: int
    active: bool
    saved: bool


def feed_form(session: Session, *, by: Principal, kind: Kind, entry_code: str) -> FeedForm:
    """The feed of `entry_code` into registry `kind` as the console edits it (NotFound for an unknown entry)."""
    by.require(REGISTRY_MANAGE)
    ev = hub.entry_version(session, by=by, code=entry_code)
    feed = session.scalars(select(Feed).where(Feed.kind == kind, Feed.entry_code == ev.code)).one_or_none()
    names = {f.name for f in ev.fields}
    suggested = {a: a for a in ATTRIBUTES[kind] if a in names}
    return FeedForm(
        kind=kind,
        entry_code=ev.code,
        entry_name=ev.name,
        fields=[(f.name, f.title) for f in ev.fields],
        attributes=dict(feed.attributes) if feed else suggested,
        trust=feed.trust if feed else 5,
        active=feed.active if feed else True,
        saved=feed is not None,
    )


def entry_choices(session: Session, *, by: Principal) -> list[tuple[str, str]]:
    """(code, name) of the catalogue entries a feed can be made of."""
    by.require(REGISTRY_MANAGE)
    return catalog.entry_names(session, by=by, flt=catalog.EntryFilter())


def survivorship(session: Session, *, by: Principal, kind: Kind) -> dict[str, Survivorship]:
    """How each attribute of `kind` is chosen among the sources."""
    by.require(REGISTRY_READ)
    return resolver.survivorship_rules(session, kind)


def set_survivorship(session: Session, *, by: Principal, kind: Kind, data: SurvivorshipIn) -> dict[str, Survivorship]:
    """Change the survivorship rule of one attribute; the next resolution applies it."""
    by.require(REGISTRY_MANAGE)
    if data.attribute not in ATTRIBUTES[kind]:
        raise InvalidInput(
            N_("'{attribute}' is not an attribute of this registry."), field="attribute", attribute=data.attribute
        )
    rule = session.scalars(
        select(SurvivorshipRule).where(SurvivorshipRule.kind == kind, SurvivorshipRule.attribute == data.attribute)
    ).one_or_none()
    if rule is None:
        rule = SurvivorshipRule(kind=kind.value, attribute=data.attribute)
        session.add(rule)
    rule.rule = data.rule.value
    rule.updated_by = by.actor().label
    rule.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="registry.survivorship.set",
        target_type="registry_survivorship",
        target_id=rule.id,
        detail={"kind": kind.value, "attribute": data.attribute, "rule": data.rule.value},
    )
    return resolver.survivorship_rules(session, kind)


# --- runs ------------------------------------------------------------------------------------------------------


def _run_read(run: Run) -> RunRead:
    return RunRead.model_validate(run, from_attributes=True)


def start_resolution(
    session: Session, *, by: Principal, kind: Kind, retrain: bool = False, now: dt.datetime | None = None
) -> RunRead:
    """Resolve registry `kind` now, in the caller's transaction (it commits whole or not at all)."""
    by.require(REGISTRY_MANAGE)
    running = session.scalars(select(Run).where(Run.kind == kind, Run.status == "running")).first()
    if running is not None:
        raise Conflict(N_("Registry {kind} is being resolved (run {id})."), kind=kind.value, id=running.id)
    run = resolver.resolve(session, kind=kind, by=by, retrain=retrain, now=now)
    audit.record(
        session,
        actor=by.actor(),
        action="registry.resolve",
        target_type="registry_run",
        target_id=run.id,
        detail={"kind": kind.value, "records": run.stats.get("records"), "golden": run.stats.get("golden")},
    )
    return _run_read(run)


def request_resolution(session: Session, *, by: Principal, kind: Kind) -> bool:
    """Queue a resolution of registry `kind` for the background worker; False if one is already queued."""
    by.require(REGISTRY_MANAGE)
    key = f"{RESOLVE_JOB}:{kind.value}"
    if jobs.unfinished(session, key) is not None:
        return False
    job = jobs.enqueue(session, RESOLVE_JOB, {"kind": kind.value}, dedupe_key=key)
    audit.record(
        session,
        actor=by.actor(),
        action="registry.resolve.request",
        target_type="job",
        target_id=job.id,
        detail={"kind": kind.value},
    )
    return True


def list_runs(session: Session, *, by: Principal, kind: Kind, params: PageParams) -> tuple[list[RunRead], int]:
    """The runs of registry `kind`, newest first."""
    by.require(REGISTRY_READ)
    runs, total = fetch_page(session, select(Run).where(Run.kind == kind).order_by(Run.id.desc()), params)
    return [_run_read(r) for r in runs], total


# --- golden records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoldenFilter:
    """Search: a name fragment, a whole identifier or its beginning, or a record number."""

    q: str | None = None


def _search(kind: Kind, flt: GoldenFilter) -> Select[Golden]:
    stmt = select(Golden).where(Golden.kind == kind, Golden.merged_into.is_(None))
    if flt.q:
        q = flt.q.strip()
        stmt = stmt.where(
            or_(Golden.name.like(f"%{q}%"), Golden.number == q.upper(), Golden.ident.like(f"{q.upper()}%"))
        )
    return stmt.order_by(Golden.number)


def _summary(kind: Kind, golden: Golden, plain: bool) -> GoldenSummary:
    return GoldenSummary(
        number=golden.number,
        kind=kind,
        attributes=masked(kind, golden.attributes, plain),
        sources=golden.sources,
        updated_at=golden.updated_at,
        masked=not plain and bool(PERSONAL[kind]),
    )


def search(
    session: Session, *, by: Principal, kind: Kind, flt: GoldenFilter, params: PageParams
) -> tuple[list[GoldenSummary], int]:
    """Golden records of `kind` whose name, identifier or number matches, masked unless the caller may see plain."""
    by.require(REGISTRY_READ)
    found, total = fetch_page(session, _search(kind, flt), params)
    plain = shows_plain(by)
    return [_summary(kind, g, plain) for g in found], total


def _golden(session: Session, kind: Kind, number: str) -> Golden:
    golden = session.scalars(select(Golden).where(Golden.kind == kind, Golden.number == number)).one_or_none()
    if golden is None:
        raise NotFound(N_("No record {number} in this registry."), number=number)
    return golden


def _lineage(
    kind: Kind, lineage: dict[str, Any], values: dict[str, Any], departments: dict[int, str]
) -> list[LineageRead]:
    return [
        LineageRead(
            attribute=attribute,
            value=values.get(attribute),
            source_id=item["source"],
            entry_code=item["entry"],
            department=departments.get(item["department"], str(item["department"])),
            observed_at=dt.datetime.fromisoformat(item["observed_at"]),
            rule=Survivorship(item["rule"]),
        )
        for attribute in ATTRIBUTES[kind]
        if (item := lineage.get(attribute))
    ]


def _sources(
    session: Session, kind: Kind, ids: list[int] | None, golden_id: int | None, plain: bool
) -> list[SourceRead]:
    stmt = select(SourceRecord, Feed.entry_code, Feed.trust).join(Feed, Feed.id == SourceRecord.feed_id)
    stmt = stmt.where(SourceRecord.id.in_(ids)) if ids is not None else stmt.where(SourceRecord.golden_id == golden_id)
    rows = session.execute(stmt.order_by(Feed.trust, SourceRecord.observed_at.desc())).all()
    departments = _department_names(session, {r.SourceRecord.department_id for r in rows})
    return [
        SourceRead(
            id=r.SourceRecord.id,
            entry_code=r.entry_code,
            trust=r.trust,
            department=departments.get(r.SourceRecord.department_id, ""),
            record_key=r.SourceRecord.record_key if plain else "",
            observed_at=r.SourceRecord.observed_at,
            values=masked(kind, r.SourceRecord.values, plain),
            valid_ident=r.SourceRecord.ident is not None,
            address_code=r.SourceRecord.address_code,
            address_level=r.SourceRecord.address_level,
            link_method=r.SourceRecord.link_method,
            link_probability=r.SourceRecord.link_probability,
        )
        for r in rows
    ]


def get_golden(
    session: Session, *, by: Principal, kind: Kind, number: str, as_of: dt.datetime | None = None
) -> GoldenRead:
    """A golden record with the lineage of every attribute and its sources: now, or as the registry knew it at
    `as_of` (NotFound if it did not know the record then). Reading plain personal values is audited."""
    by.require(REGISTRY_READ)
    golden = _golden(session, kind, number)
    plain = shows_plain(by)
    if as_of is None:
        attributes, lineage, since = golden.attributes, golden.lineage, golden.updated_at
        source_ids = None
        until = None
    else:
        version = session.scalars(
            select(GoldenVersion)
            .where(
                GoldenVersion.golden_id == golden.id,
                GoldenVersion.valid_from <= as_of,
                or_(GoldenVersion.valid_to.is_(None), GoldenVersion.valid_to > as_of),
            )
            .order_by(GoldenVersion.valid_from.desc())
            .limit(1)
        ).one_or_none()
        if version is None:
            raise NotFound(
                N_("The registry did not know record {number} on {date}."), number=number, date=as_of.isoformat()
            )
        attributes, lineage, since, until = version.attributes, version.lineage, version.valid_from, version.valid_to
        source_ids = list(version.source_ids)
    sources = _sources(session, kind, source_ids, golden.id, plain)
    departments = _department_names(session, {item["department"] for item in lineage.values()})
    merged_into = None
    if golden.merged_into is not None:
        heir = session.get(Golden, golden.merged_into)
        merged_into = heir.number if heir else None
    versions = session.execute(
        select(GoldenVersion.valid_from, GoldenVersion.valid_to)
        .where(GoldenVersion.golden_id == golden.id)
        .order_by(GoldenVersion.valid_from)
    ).all()
    if plain and PERSONAL[kind]:
        audit.record_read(
            session,
            actor=by.actor(),
            action="registry.golden.read_plain",
            target_type="registry_golden",
            target_id=golden.number,
            detail={"kind": kind.value, "as_of": as_of.isoformat() if as_of else None},
        )
    return GoldenRead(
        number=golden.number,
        kind=kind,
        attributes=masked(kind, attributes, plain),
        lineage=_lineage(kind, lineage, masked(kind, attributes, plain), departments),
        sources=sources,
        valid_from=since,
        valid_to=until,
        as_of=as_of,
        created_at=golden.created_at,
        merged_into=merged_into,
        history=[(a, b) for a, b in versions],
        masked=not plain and bool(PERSONAL[kind]),
    )


def unmatched_addresses(
    session: Session, *, by: Principal, kind: Kind, params: PageParams
) -> tuple[list[SourceRead], int]:
    """Source records whose address is not in the address registry down to the door number."""
    by.require(REGISTRY_READ)
    stmt = (
        select(SourceRecord.id)
        .where(
            SourceRecord.kind == kind, SourceRecord.address_level.is_not(None), SourceRecord.address_level != "exact"
        )
        .order_by(SourceRecord.id)
    )
    ids, total = fetch_page(session, stmt, params)
    return _sources(session, kind, list(ids), None, shows_plain(by)), total


def address_levels(session: Session, *, by: Principal, kind: Kind) -> dict[str, int]:
    """How many source records' addresses matched the address registry at each level."""
    by.require(REGISTRY_READ)
    rows = session.execute(
        select(SourceRecord.address_level, func.count())
        .where(SourceRecord.kind == kind, SourceRecord.address_level.is_not(None))
        .group_by(SourceRecord.address_level)
    )
    return {level or "none": count for level, count in rows}


# --- clerical review -----------------------------------------------------------------------------------------------


def _review_read(session: Session, kind: Kind, pair: ReviewPair, plain: bool) -> ReviewRead:
    sources = {s.id: s for s in _sources(session, kind, [pair.left_id, pair.right_id], None, plain)}
    return ReviewRead(
        id=pair.id,
        kind=kind,
        probability=pair.probability,
        match_weight=pair.match_weight,
        comparison=pair.comparison,
        status=ReviewStatus(pair.status),
        left=sources[pair.left_id],
        right=sources[pair.right_id],
        decided_by=pair.decided_by,
        decided_at=pair.decided_at,
        reason=pair.reason,
    )


def review_queue(
    session: Session, *, by: Principal, kind: Kind, status: ReviewStatus, params: PageParams
) -> tuple[list[ReviewRead], int]:
    """Pairs of `kind` in `status`, the most uncertain first."""
    by.require(REGISTRY_REVIEW)
    stmt = select(ReviewPair).where(ReviewPair.kind == kind, ReviewPair.status == status)
    stmt = stmt.order_by(func.abs(ReviewPair.probability - 0.5), ReviewPair.id)
    pairs, total = fetch_page(session, stmt, params)
    plain = shows_plain(by)
    return [_review_read(session, kind, p, plain) for p in pairs], total


def get_review(session: Session, *, by: Principal, kind: Kind, pair_id: int) -> ReviewRead:
    """One pair of the review queue."""
    by.require(REGISTRY_REVIEW)
    pair = session.scalars(select(ReviewPair).where(ReviewPair.id == pair_id, ReviewPair.kind == kind)).one_or_none()
    if pair is None:
        raise NotFound(N_("No review pair {id}."), id=pair_id)
    return _review_read(session, kind, pair, shows_plain(by))


def decide(session: Session, *, by: Principal, kind: Kind, pair_id: int, data: ReviewDecision) -> ReviewRead:
    """Accept (the same) or reject (different) a pending pair; remembered by every later resolution."""
    by.require(REGISTRY_REVIEW)
    pair = session.scalars(
        select(ReviewPair).where(ReviewPair.id == pair_id, ReviewPair.kind == kind).with_for_update()
    ).one_or_none()
    if pair is None:
        raise NotFound(N_("No review pair {id}."), id=pair_id)
    if pair.status != ReviewStatus.PENDING:
        raise Conflict(N_("Pair {id} was already decided by {user}."), id=pair_id, user=pair.decided_by or "")
    pair.status = (ReviewStatus.ACCEPTED if data.same else ReviewStatus.REJECTED).value
    pair.decided_by = by.actor().label
    pair.decided_at = utcnow()
    pair.reason = data.reason
    session.flush()
    audit.record(
        session,
        actor=by.actor(),
        action="registry.review.accept" if data.same else "registry.review.reject",
        target_type="registry_review",
        target_id=pair.id,
        detail={"kind": kind.value, "left": pair.left_id, "right": pair.right_id, "reason": data.reason},
    )
    return _review_read(session, kind, pair, shows_plain(by))


def review_counts(session: Session, *, kind: Kind) -> dict[str, int]:
    """Pairs per review status."""
    rows = session.execute(
        select(ReviewPair.status, func.count()).where(ReviewPair.kind == kind).group_by(ReviewPair.status)
    )
    return {status: count for status, count in rows}


def overview(session: Session, *, by: Principal) -> dict[Kind, dict[str, Any]]:
    """Per registry: golden records, source records, feeds, pending review pairs and the last run."""
    by.require(REGISTRY_READ)
    out: dict[Kind, dict[str, Any]] = {}
    for kind in Kind:
        last = session.scalars(select(Run).where(Run.kind == kind).order_by(Run.id.desc()).limit(1)).one_or_none()
        out[kind] = {
            "golden": session.scalar(
                select(func.count()).select_from(Golden).where(Golden.kind == kind, Golden.merged_into.is_(None))
            ),
            "sources": session.scalar(select(func.count()).select_from(SourceRecord).where(SourceRecord.kind == kind)),
            "feeds": session.scalar(select(func.count()).select_from(Feed).where(Feed.kind == kind, Feed.active)),
            "pending": review_counts(session, kind=kind).get(ReviewStatus.PENDING, 0),
            "last_run": _run_read(last) if last else None,
        }
    return out


def parse_and_match(session: Session, *, by: Principal, text: str) -> AddressParsed:
    """An address taken apart, standardised, and matched to the address registry (level and coordinates)."""
    by.require(REGISTRY_READ)
    parsed = parse_address(text)
    index = resolver.address_index(session)
    match = index.match(parsed) if index is not None else None
    return AddressParsed(
        text=text,
        standard=parsed.standard(),
        parts={part: getattr(parsed, part) for part in ADDRESS_PARTS},
        match_level=match.level if match else "none",
        address_code=match.code if match else None,
        longitude=match.lon if match else None,
        latitude=match.lat if match else None,
    )


def feed_freshness(session: Session, *, by: Principal) -> dict[Kind, tuple[list[str], dt.datetime | None]]:
    """Per registry with active feeds: the entries that feed it and when its last successful run began."""
    by.require(REGISTRY_READ)
    out: dict[Kind, tuple[list[str], dt.datetime | None]] = {}
    for kind in Kind:
        codes = list(session.scalars(select(Feed.entry_code).where(Feed.kind == kind, Feed.active.is_(True))))
        if codes:
            since = session.scalar(select(func.max(Run.started_at)).where(Run.kind == kind, Run.status == "done"))
            out[kind] = (codes, since)
    return out
