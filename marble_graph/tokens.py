"""API tokens: created once, stored as a sha256 digest, checked by scope.

A token is ``marble_`` followed by 32 random bytes in URL-safe base64. Only
its digest reaches the database, so a leaked metadata store leaks no usable
token; the plain token is returned once, by ``create``, and never logged.
Scopes nest by privilege only where stated: ``admin`` grants everything.

A token may also be limited to named brains (``brains``); None means every
brain. The limit applies on top of the scopes, ``admin`` included: a limited
token sees and touches only its brains. Names are checked against the brain
name rule but need not exist yet, so a token can be made for a brain that is
created later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import select

from marble_graph.brain_names import validate_brain_name
from marble_graph.errors import Conflict, NotFound, ValidationFailed
from marble_graph.store.metadata import ApiToken, MetadataStore

TOKEN_PREFIX = "marble_"
TOKEN_NAME_MAX = 128


class Scope(StrEnum):
    """What a token may do: read state, run inference, start training, administer."""

    READ = "read"
    INFER = "infer"
    TRAIN = "train"
    ADMIN = "admin"


@dataclass(frozen=True)
class TokenInfo:
    """A token's record, without the secret."""

    id: int
    name: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    # None: every brain; otherwise the only brains the token may see or use.
    brains: tuple[str, ...] | None = None

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def may_use(self, brain: str) -> bool:
        """Whether the token may see or act on ``brain`` (an unlimited token may use any)."""
        return self.brains is None or brain in self.brains

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": [s.value for s in self.scopes],
            "brains": list(self.brains) if self.brains is not None else None,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def parse_scopes(values: list[str] | tuple[str, ...] | str) -> tuple[Scope, ...]:
    """Scopes from names (a list, or one comma-separated string); unknown names are errors."""
    names = values.split(",") if isinstance(values, str) else list(values)
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise ValidationFailed(f"no scopes given: expected some of {_scope_names()}")
    unknown = [n for n in cleaned if n not in Scope._value2member_map_]
    if unknown:
        raise ValidationFailed(f"unknown scope {unknown[0]!r}: expected some of {_scope_names()}")
    return tuple(dict.fromkeys(Scope(n) for n in cleaned))


def parse_brains(values: list[str] | tuple[str, ...] | str | None) -> tuple[str, ...] | None:
    """Brain names from a list or one comma-separated string; None (no limit) stays None.

    Each name must follow the brain name rule; it need not exist yet.
    """
    if values is None:
        return None
    names = values.split(",") if isinstance(values, str) else list(values)
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise ValidationFailed("no brains given: name at least one brain, or leave the limit out")
    for name in cleaned:
        validate_brain_name(name)
    return tuple(dict.fromkeys(cleaned))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Token records in the SQL metadata store (the CLI and the server share it)."""

    def __init__(self, metadata: MetadataStore) -> None:
        self.metadata = metadata

    def create(
        self,
        name: str,
        scopes: tuple[Scope, ...],
        brains: tuple[str, ...] | list[str] | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token; the returned plain token is the only copy there will ever be.

        ``brains`` limits the token to those brains (None: every brain); a name
        must be a valid brain name but the brain need not exist yet.
        """
        if not name or len(name) > TOKEN_NAME_MAX:
            raise ValidationFailed(f"token name must be 1-{TOKEN_NAME_MAX} characters")
        if not scopes:
            raise ValidationFailed(f"a token needs at least one scope of {_scope_names()}")
        limit = parse_brains(brains)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.metadata.session() as session:
            taken = session.scalars(select(ApiToken).where(ApiToken.name == name)).first()
            if taken is not None:
                raise Conflict(f"a token named {name!r} already exists (revoke it first)")
            row = ApiToken(
                name=name,
                token_hash=hash_token(token),
                scopes=[s.value for s in scopes],
                brains=list(limit) if limit is not None else None,
            )
            session.add(row)
            session.flush()
            return token, _info(row)

    def list(self, include_revoked: bool = False) -> list[TokenInfo]:
        with self.metadata.session() as session:
            query = select(ApiToken).order_by(ApiToken.id)
            if not include_revoked:
                query = query.where(ApiToken.revoked_at.is_(None))
            return [_info(row) for row in session.scalars(query)]

    def revoke(self, name: str) -> TokenInfo:
        """Revoke by name; the record stays (with its revocation time) for auditing.

        A revoked token's name is released (renamed with its id) so it can be reused.
        """
        with self.metadata.session() as session:
            row = session.scalars(
                select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            ).first()
            if row is None:
                known = [t.name for t in self.list()]
                raise NotFound(f"no active token named {name!r} (active: {known or 'none'})")
            row.revoked_at = datetime.now(UTC)
            row.name = f"{name}#revoked-{row.id}"[:TOKEN_NAME_MAX]
            session.flush()
            return _info(row)

    def verify(self, token: str, touch: bool = True) -> TokenInfo | None:
        """The active token matching ``token``, or None; ``touch`` records the use."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        with self.metadata.session() as session:
            row = session.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
            # The lookup is by digest; compare again in constant time for good measure.
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.token_hash, digest):
                return None
            if touch:
                row.last_used_at = datetime.now(UTC)
            return _info(row)


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        scopes=tuple(Scope(s) for s in row.scopes),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        brains=tuple(row.brains) if row.brains is not None else None,
    )


def _scope_names() -> str:
    return ", ".join(s.value for s in Scope)


def open_token_store(metadata_url: str) -> TokenStore:
    """The token store of a metadata database, opened (and migrated) on its own: the
    CLI manages tokens while a server holds the home's graph database."""
    metadata = MetadataStore(metadata_url)
    metadata.upgrade()
    return TokenStore(metadata)
