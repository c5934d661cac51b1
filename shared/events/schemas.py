"""JSON Schemas of the message contract, generated from the pydantic models.

python -m shared.events.schemas          writes docs/events/*.schema.json
python -m shared.events.schemas --check  fails when the files differ from the models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.envelope import Envelope
from shared.events import CATALOG

DIRECTORY = Path(__file__).resolve().parents[2] / "docs" / "events"


def documents() -> dict[str, str]:
    docs = {"envelope.schema.json": Envelope.model_json_schema()}
    for event_type, model in sorted(CATALOG.items()):
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = event_type
        schema["description"] = (model.__doc__ or "").strip() or f"Payload of {event_type}"
        docs[f"{event_type}.schema.json"] = schema
    return {
        name: json.dumps(doc, indent=2, ensure_ascii=False) + "\n" for name, doc in docs.items()
    }


def main(argv: list[str]) -> int:
    wanted = documents()
    if "--check" in argv:
        stale = [
            n
            for n, text in wanted.items()
            if not (DIRECTORY / n).exists() or (DIRECTORY / n).read_text() != text
        ]
        extra = sorted({p.name for p in DIRECTORY.glob("*.schema.json")} - wanted.keys())
        for name in stale + extra:
            print(f"out of date: docs/events/{name}")
        return 1 if stale or extra else 0
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for old in DIRECTORY.glob("*.schema.json"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        (DIRECTORY / name).write_text(text)
    print(f"wrote {len(wanted)} schemas to {DIRECTORY}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
