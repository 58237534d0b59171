"""Extract the code tables of chapter 6 (【4906字典表】) of the reference interface spec
into src/yibao/data/dictionaries.json, which 1901 serves.

    python tools/extract_dictionaries.py ../shared/reference/interface-spec-hunan-v1.1.27.md

Tables are "| 代码值 | 代码名称 | 代码值 | 代码名称 |" rows under a "名称(type)" heading.
Where yibao uses the national codes (psn_type, med_type, insutype, ...) the national table
from src/yibao/domain/codes.py replaces the regional one (see NATIONAL overrides below).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HEADING = re.compile(r"^([^|#\d][^|()（）]{0,40})\(([A-Za-z_][A-Za-z0-9_]*)\)\s*$")
OUT = Path(__file__).resolve().parent.parent / "src" / "yibao" / "data" / "dictionaries.json"


def extract(text: str) -> dict[str, dict]:
    tables: dict[str, dict] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        heading = HEADING.match(line)
        if heading:
            current = heading.group(2)
            tables.setdefault(current, {"title": heading.group(1).strip(), "values": {}})
            continue
        if current is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] == "代码值":
            continue
        for value, label in zip(cells[0::2], cells[1::2], strict=False):
            if value and label:
                tables[current]["values"].setdefault(value, label)
    return {k: v for k, v in tables.items() if v["values"]}


def main() -> None:
    spec = Path(sys.argv[1])
    text = spec.read_text(encoding="utf-8", errors="replace")
    start = text.find("【4906字典表】", text.find("【4906字典表】") + 1)
    tables = extract(text[start:] if start > 0 else text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {"source": f"{spec.name}, chapter 6", "tables": tables}
    OUT.write_text(json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    print(f"{len(tables)} tables -> {OUT}")


if __name__ == "__main__":
    main()
