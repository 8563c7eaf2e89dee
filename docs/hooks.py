"""MkDocs hooks: the configuration reference generated from pinnkit's pydantic schemas, and the JSON schema
published beside the site, so that neither can drift from the code."""
from __future__ import annotations

import json
from typing import Any

from mkdocs.structure.files import File, Files
from pydantic import BaseModel

from pinnkit.config import Config
from pinnkit.optim import PHASES

BOUNDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return markdown.replace("{{ configuration_reference }}", reference())


def on_files(files: Files, config: Any) -> Files:
    """The JSON schema of the configuration, as a file of the site."""
    files.append(File.generated(config, "config.schema.json", content=json.dumps(Config.model_json_schema(), indent=2)))
    return files


def reference() -> str:
    """Markdown tables: the top-level keys, each section, then each optimizer's phase keys."""
    sections = [("Top level", None, Config)]
    for name, field in Config.model_fields.items():
        model = _model(field.annotation)
        if model is not None and name != "phases":
            sections.append((f"[{name}]", name, model))
    out = []
    for title, prefix, model in sections:
        out += [f"## {title}", "", _table(model, prefix, skip=set() if prefix else _sections()), ""]
    out += ["## [[phases]]", "", "Each phase table names its `optimizer`; the keys below are those of every phase, "
            "then each optimizer's own.", ""]
    shared = set(PHASES["adam"].Options.model_fields) & set(PHASES["lbfgs"].Options.model_fields)
    out += [_table(PHASES["adam"].Options, "phases[i]", only=shared), ""]
    for name, cls in PHASES.items():
        out += [f"### optimizer = \"{name}\"", "", (cls.__doc__ or "").strip().split("\n")[0], "",
                _table(cls.Options, "phases[i]", skip=shared), ""]
    return "\n".join(out)


def _sections() -> set[str]:
    return {name for name, field in Config.model_fields.items() if _model(field.annotation) or name == "phases"}


def _model(annotation: Any) -> Any:
    """The pydantic model a field holds (also inside Optional), or None."""
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _table(model: type[BaseModel], prefix: Any, skip: set = frozenset(), only: Any = None) -> str:
    rows = ["| key | type | default | bounds | what it does |", "| --- | --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if name in skip or (only is not None and name not in only) or name == "optimizer" and only is None and skip:
            continue
        bounds = ", ".join(f"{BOUNDS[k]} {getattr(m, k)}" for m in field.metadata for k in BOUNDS if hasattr(m, k))
        kind = str(field.annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")
        default = "required" if field.is_required() else f"`{field.default!r}`"
        key = f"{prefix}.{name}" if prefix else name
        rows.append(f"| `{key}` | `{kind}` | {default} | {bounds} | {(field.description or '').replace('|', '/')} |")
    return "\n".join(rows)
