"""JSON-LD @contexts without the network: the NGSI-LD core context is built in, an operator maps public context
URLs to local files, and clients register contexts through /jsonldContexts.

Terms are expanded and compacted as JSON-LD 1.1 does for keys and `@type` values (term definitions, compact IRIs,
`@vocab`), with the core context applied last so that its terms cannot be redefined (GS CIM 009 clause 5.5.7).
Values are never expanded: NGSI-LD values are literals. A URL this broker does not hold is refused at once with
LdContextNotAvailable; nothing is ever fetched.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartcity.ngsild.errors import BadRequestData, LdContextNotAvailable

CORE_CONTEXT_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
CORE_URL_PATTERN = re.compile(r"^https?://uri\.etsi\.org/ngsi-ld/v1/ngsi-ld-core-context(-v1\.\d+)?\.jsonld$")
CORE_FILE = Path(__file__).parent / "contexts" / "ngsi-ld-core-context-v1.8.jsonld"
CONTEXT_REL = "http://www.w3.org/ns/json-ld#context"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = NGSI_LD + "default-context/"
MAX_DEPTH = 8  # contexts that name contexts that name contexts …
_GEN_DELIMS = (":", "/", "?", "#", "[", "]", "@")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


def core_document() -> dict[str, Any]:
    """The built-in core @context document."""
    return _CORE_DOCUMENT


_CORE_DOCUMENT: dict[str, Any] = json.loads(CORE_FILE.read_text(encoding="utf-8"))


@dataclass
class TermMap:
    """An active context reduced to what NGSI-LD needs: term → IRI, the usable prefixes and `@vocab`."""

    terms: dict[str, str | None] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    vocab: str | None = None
    _expanded: dict[str, str | None] = field(default_factory=dict, repr=False)
    _compacted: dict[str, str] = field(default_factory=dict, repr=False)
    _inverse: dict[str, str] | None = field(default=None, repr=False)

    def expand(self, term: str) -> str | None:
        """The IRI of a key or type name, None when the context maps it to null (JSON-LD drops such keys)."""
        try:
            return self._expanded[term]
        except KeyError:
            pass
        iri = _expand_iri(term, self.terms, self.prefixes, self.vocab)
        if len(self._expanded) < 50_000:
            self._expanded[term] = iri
        return iri

    def compact(self, iri: str) -> str:
        """The shortest term or compact IRI for `iri` in this context, or `iri` itself."""
        try:
            return self._compacted[iri]
        except KeyError:
            pass
        short = self._compact(iri)
        if len(self._compacted) < 50_000:
            self._compacted[iri] = short
        return short

    def _compact(self, iri: str) -> str:
        if self._inverse is None:
            inverse: dict[str, str] = {}
            for term, target in self.terms.items():
                if target is None or term.startswith("@"):
                    continue
                best = inverse.get(target)
                if best is None or (len(term), term) < (len(best), best):
                    inverse[target] = term
            self._inverse = inverse
        known = self._inverse.get(iri)
        if known is not None:
            return known
        if self.vocab and iri.startswith(self.vocab):
            suffix = iri[len(self.vocab) :]
            if suffix and suffix not in self.terms and ":" not in suffix:
                return suffix
        candidates = [
            f"{prefix}:{iri[len(target) :]}"
            for prefix, target in self.prefixes.items()
            if iri.startswith(target) and len(iri) > len(target)
        ]
        if candidates:
            return min(candidates, key=lambda c: (len(c), c))
        return iri


def _is_absolute(value: str) -> bool:
    scheme, sep, _ = value.partition(":")
    return bool(sep) and bool(_SCHEME.match(scheme))


def _expand_iri(value: str, terms: dict[str, str | None], prefixes: dict[str, str], vocab: str | None) -> str | None:
    if value.startswith("@"):
        return value
    if value in terms:
        return terms[value]
    prefix, sep, suffix = value.partition(":")
    if sep:
        if suffix.startswith("//"):
            return value
        if prefix in prefixes:
            return prefixes[prefix] + suffix
        if _is_absolute(value):
            return value
    if vocab is not None:
        return vocab + value
    return None


@dataclass
class _Builder:
    """An active context under construction (JSON-LD 1.1 context processing, keys and types only)."""

    terms: dict[str, str | None] = field(default_factory=dict)
    prefixes: dict[str, str] = field(default_factory=dict)
    vocab: str | None = None

    def define(self, local: dict[str, Any]) -> None:
        if "@vocab" in local:
            vocab = local["@vocab"]
            if vocab is None:
                self.vocab = None
            elif isinstance(vocab, str):
                expanded = _expand_iri(vocab, self.terms, self.prefixes, self.vocab) if vocab else self.vocab
                self.vocab = expanded
            else:
                raise BadRequestData("@vocab in a @context must be a string or null")
        pending = {k: v for k, v in local.items() if not k.startswith("@")}
        resolving: set[str] = set()

        def resolve(term: str) -> None:
            if term not in pending:
                return
            if term in resolving:
                raise BadRequestData(f"the @context defines the term '{term}' in a cycle")
            resolving.add(term)
            definition = pending[term]
            iri: str | None
            prefix_flag: bool | None = None
            if definition is None:
                iri = None
            elif isinstance(definition, str):
                iri = self._iri_of(definition, resolve, term)
            elif isinstance(definition, dict):
                if "@reverse" in definition:
                    iri = self._iri_of(str(definition["@reverse"]), resolve, term)
                elif "@id" in definition:
                    target = definition["@id"]
                    iri = None if target is None else self._iri_of(str(target), resolve, term)
                else:
                    iri = self._iri_of(term, resolve, term, own=True)
                flag = definition.get("@prefix")
                prefix_flag = flag if isinstance(flag, bool) else None
            else:
                raise BadRequestData(
                    f"the @context's definition of the term '{term}' is neither a string nor an object"
                )
            del pending[term]
            resolving.discard(term)
            self.terms[term] = iri
            self.prefixes.pop(term, None)
            if iri is not None and ":" not in term and "/" not in term:
                simple = isinstance(definition, str) and iri.endswith(_GEN_DELIMS)
                if prefix_flag is True or (prefix_flag is None and simple):
                    self.prefixes[term] = iri

        for term in list(pending):
            resolve(term)

    def _iri_of(self, value: str, resolve: Callable[[str], None], term: str, *, own: bool = False) -> str | None:
        """The IRI a term definition names; definitions it depends on (its prefix, its target term) first.

        `own`: the definition has no @id, so the term itself is read as a compact IRI, an IRI or a word of @vocab."""
        if value.startswith("@"):
            return value
        prefix, sep, suffix = value.partition(":")
        compact = bool(sep) and not suffix.startswith("//")
        if compact and prefix != term:
            resolve(prefix)
        elif not sep and value != term:
            resolve(value)
        if own and not sep:
            return None if self.vocab is None else self.vocab + value
        if value == term or own:
            return _expand_iri(value, {}, self.prefixes, self.vocab)
        return _expand_iri(value, self.terms, self.prefixes, self.vocab)


Loader = Callable[[str], dict[str, Any] | None]


class ContextResolver:
    """Turns a request's @context (a URL, an object or a list of them) into a TermMap, the core context last.

    Documents come from, in order: the built-in core context, the operator's preloaded map (URL → local file), and
    `registered` (the contexts stored through /jsonldContexts). Results are cached; `forget` drops a URL."""

    def __init__(self, preloaded: dict[str, Path] | None = None, registered: Loader | None = None) -> None:
        self.preloaded = dict(preloaded or {})
        self.registered = registered
        self._documents: dict[str, dict[str, Any]] = {}
        self._maps: OrderedDict[str, TermMap] = OrderedDict()
        self._lock = threading.Lock()
        self.core = self.active(None)

    def document(self, url: str, loader: Loader | None = None) -> dict[str, Any]:
        """The context document at `url`, from memory, never the network."""
        if CORE_URL_PATTERN.match(url):
            return _CORE_DOCUMENT
        known = self._documents.get(url)
        if known is not None:
            return known
        path = self.preloaded.get(url)
        document: dict[str, Any] | None = None
        if path is not None:
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                message = f"the @context {url} is mapped to {path.name}, which cannot be read: {exc}"
                raise LdContextNotAvailable(message) from None
        else:
            lookup = loader or self.registered
            document = lookup(url) if lookup is not None else None
        if document is None:
            raise LdContextNotAvailable(
                f"the @context {url} is not held by this broker, which never fetches contexts from the network: "
                "register it with POST /ngsi-ld/v1/jsonldContexts or have the operator map it to a local file"
            )
        if not isinstance(document, dict) or "@context" not in document:
            raise LdContextNotAvailable(f"the document at {url} has no @context member")
        with self._lock:
            self._documents[url] = document
        return document

    def active(self, context: Any, loader: Loader | None = None) -> TermMap:
        """The TermMap of `context` followed by the core context."""
        key = context if isinstance(context, str) else json.dumps(context, sort_keys=True)
        with self._lock:
            cached = self._maps.get(key)
            if cached is not None:
                self._maps.move_to_end(key)
                return cached
        builder = _Builder()
        if context is not None:
            self._process(builder, context, loader, depth=0)
        self._process(builder, _CORE_DOCUMENT["@context"], loader, depth=0)
        result = TermMap(terms=builder.terms, prefixes=builder.prefixes, vocab=builder.vocab)
        with self._lock:
            self._maps[key] = result
            while len(self._maps) > 512:
                self._maps.popitem(last=False)
        return result

    def _process(self, builder: _Builder, context: Any, loader: Loader | None, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise BadRequestData(f"the @context nests more than {MAX_DEPTH} levels of contexts")
        if isinstance(context, list):
            for item in context:
                self._process(builder, item, loader, depth + 1)
        elif context is None:
            builder.terms.clear()
            builder.prefixes.clear()
            builder.vocab = None
        elif isinstance(context, str):
            if not _is_absolute(context):
                raise BadRequestData(f"the @context '{context}' is not an absolute URL")
            self._process(builder, self.document(context, loader)["@context"], loader, depth + 1)
        elif isinstance(context, dict):
            imported = context.get("@import")
            if isinstance(imported, str):
                inner = self.document(imported, loader)["@context"]
                if isinstance(inner, dict):
                    self._process(
                        builder, {**inner, **{k: v for k, v in context.items() if k != "@import"}}, loader, depth + 1
                    )
                    return
            builder.define(context)
        else:
            raise BadRequestData("a @context must be a URL, an object or a list of them")

    def forget(self, url: str) -> None:
        with self._lock:
            self._documents.pop(url, None)
            for key in [k for k in self._maps if url in k]:
                del self._maps[key]


def link_header(url: str) -> str:
    """The Link header that names `url` as the @context of a JSON body (GS CIM 009 clause 6.3.5)."""
    return f'<{url}>; rel="{CONTEXT_REL}"; type="application/ld+json"'


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def context_from_link(values: list[str]) -> str | None:
    """The @context URL of the request's Link header(s), None when none names one; two are an error."""
    found: list[str] = []
    for value in values:
        for match in _LINK.finditer(value):
            params = match.group(2)
            rels = re.findall(r'rel\s*=\s*"?([^";]+)"?', params)
            if any(rel.strip() == CONTEXT_REL for rel in rels):
                found.append(match.group(1).strip())
    if len(found) > 1:
        raise BadRequestData("the request names more than one @context in its Link headers")
    if found and not _is_absolute(found[0]):
        raise BadRequestData(f"the @context in the Link header, '{found[0]}', is not an absolute URL")
    return found[0] if found else None


def load_context_map(path: Path) -> dict[str, Path]:
    """The operator's preload map: a JSON object from @context URLs to local files (relative to the map's folder)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: the @context map cannot be read: {exc}") from exc
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise ValueError(f"{path}: the @context map must be a JSON object of URL → file path")
    return {url: (path.parent / file) for url, file in raw.items()}
