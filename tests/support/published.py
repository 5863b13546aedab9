"""The bytes of a published export, read from the bucket as its manifest lists them: what a follower must get."""

from __future__ import annotations

from functions.core import layout
from functions.core.publish import parse_manifest, revision_state


def published_bytes(app, resource_id: str, variant_key: str) -> bytes:
    """The one published attempt of the variant's current revision, joined (header copies skipped)."""
    store = app.backend.read_write.store
    objects = store.list(f"{layout.ROOT}{resource_id}/{variant_key}/")
    state = revision_state(objects)
    assert state.published is not None, f"{resource_id}/{variant_key} is not published"
    manifest = parse_manifest(store.read_bytes(state.published.manifest.name))
    return b"".join(b"".join(store.read_range(p.name, p.skip, p.size - p.skip, 1 << 20)) for p in manifest.pieces)


def attempts(app, resource_id: str, variant_key: str) -> set[str]:
    """The attempt folders of every revision of the variant: one export made means one attempt."""
    objects = app.backend.read_write.store.list(f"{layout.ROOT}{resource_id}/{variant_key}/")
    return {"/".join(o.name.split("/")[-3:-1]) for o in objects}
