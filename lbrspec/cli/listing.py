"""``lbrspec list``: the shipped models, and the variants, invariants, goals and liveness
properties of the model selected."""

from __future__ import annotations

from typing import Any

import click

from ..modelref import ModelModule, load_model, shipped_models
from .common import emit_json, model_option, run_options


def model_summary(source: ModelModule, selected: bool) -> dict[str, Any]:
    """One model for the models table: name, first line of its doc, sorts, number of variants."""
    model = source.build()
    return {
        "name": source.name,
        "model": model.name,
        "description": source.summary,
        "sorts": [s.name for s in model.sorts],
        "variants": len(source.all_variants()),
        "selected": selected,
    }


def models_table(selected: ModelModule) -> list[dict[str, Any]]:
    """The shipped models, then the selected one if it is not shipped (a file or a module)."""
    rows = [model_summary(load_model(name), selected.kind == "shipped" and selected.name == name)
            for name in shipped_models()]
    if selected.kind != "shipped":
        rows.append(model_summary(selected, True))
    return rows


@click.command("list")
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@run_options()
def list_cmd(model_ref: str | None, as_json: bool) -> None:
    """List the shipped models, then the selected model's variants, invariants, goals and
    liveness properties with one-line descriptions (liveness is checked with `lbrspec check
    --liveness`).  --model selects the model (default guest_lbr); a model file is Python and
    runs like any import."""
    source = load_model(model_ref)
    model = source.build()
    vs = list(source.all_variants().values())
    data = {
        "model": model.name,
        "models": models_table(source),
        "variants": [
            {"name": v.name, "description": v.description, "kind": v.kind, "expected": v.expected, "patch": v.patch}
            for v in vs
        ],
        "invariants": [{"name": i.name, "description": i.summary, "patch": i.patch} for i in model.invariants],
        "goals": [{"name": g.name, "description": g.summary, "patch": g.patch} for g in model.goals],
        "liveness": [{"name": p.name, "description": p.summary, "patch": p.patch} for p in source.liveness(model)],
    }
    if as_json:
        emit_json(data)
        return
    print_models(data["models"])
    echo = click.echo
    echo("")
    echo(f"model {model.name}: sorts {', '.join(s.name for s in model.sorts)}; "
         f"{len(model.machines)} machines, {len(model.actions)} actions")
    kinds = {"design": "the design", "alternative": source.text("alternative"), "mutant": "mutant"}
    for section, key in (("variants", "variants"), ("invariants", "invariants"), ("goals", "goals"),
                         ("liveness (lbrspec check --liveness)", "liveness")):
        echo("")
        echo(f"{section}:")
        rows = data[key]
        if not rows:
            echo("  (none)")
            continue
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            extra = ""
            if key == "variants":
                extra = f"  [{kinds.get(r['kind'], r['kind'])}" + (f"; breaks {r['expected']}]" if r["expected"] else "]")
            echo(f"  {r['name'].ljust(width)}  {r['description']}{extra}")


def print_models(rows: list[dict[str, Any]]) -> None:
    """The models table: ``*`` marks the one selected (``--model``)."""
    click.echo("models (select one with --model NAME, a .py file or a module):")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "*" if r["selected"] else " "
        click.echo(f" {mark}{r['name'].ljust(width)}  {r['description']}  "
                   f"[sorts {', '.join(r['sorts']) or 'none'}; {r['variants']} variants]")
