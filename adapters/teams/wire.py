"""Plain JSON activities → botbuilder `Activity` objects, keeping every entity field.

botbuilder 4.17's `Entity` model serializes only the fields it declares (`type`), so a
`streaminfo` entity loses `streamId` / `streamType` / `streamSequence` and the AI-label /
citation entity loses everything but its type; a plain dict in `entities` fails to serialize at
all. `RawEntity` declares, per instance, exactly the keys it was given (msrest reads
`_attribute_map` from the object), so the JSON `render` built goes out unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botbuilder.schema import Activity, Attachment, Entity


class RawEntity(Entity):  # type: ignore[misc]
    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(type=str(data.get("type") or ""))
        extra = {k: v for k, v in data.items() if k != "type"}
        self._attribute_map = {
            **Entity._attribute_map,
            **{k: {"key": k.replace(".", "\\."), "type": "object"} for k in extra},
        }
        for key, value in extra.items():
            setattr(self, key, value)


def to_activity(body: Mapping[str, Any]) -> Activity:
    """A botbuilder Activity that serializes back to `body` (entities and cards intact)."""
    plain = {k: v for k, v in body.items() if k not in ("entities", "attachments")}
    activity: Activity = Activity().deserialize(plain)
    if body.get("entities"):
        activity.entities = [RawEntity(e) for e in body["entities"]]
    if body.get("attachments"):
        activity.attachments = [
            Attachment(content_type=a.get("contentType"), content=a.get("content"))
            for a in body["attachments"]
        ]
    return activity
