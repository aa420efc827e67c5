"""``lbrspec list``: the variants, invariants and goals of the model."""

from __future__ import annotations

import click

from .common import default_variant, emit_json, load_model, variants


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
def list_cmd(as_json: bool) -> None:
    """List the model's variants, invariants, goals and liveness properties with one-line
    descriptions (liveness is checked with `lbrspec check --liveness`)."""
    from lbrspec_models import guest_lbr

    model = load_model(default_variant())
    vs = list(variants().values()) + list(guest_lbr.LIVENESS_VARIANTS.values())
    data = {
        "model": model.name,
        "variants": [
            {"name": v.name, "description": v.description, "kind": v.kind, "expected": v.expected, "patch": v.patch}
            for v in vs
        ],
        "invariants": [{"name": i.name, "description": i.summary, "patch": i.patch} for i in model.invariants],
        "goals": [{"name": g.name, "description": g.summary, "patch": g.patch} for g in model.goals],
        "liveness": [{"name": p.name, "description": p.summary, "patch": p.patch} for p in guest_lbr.liveness(model)],
    }
    if as_json:
        emit_json(data)
        return
    echo = click.echo
    echo(f"model {model.name}: sorts {', '.join(s.name for s in model.sorts)}; "
         f"{len(model.machines)} machines, {len(model.actions)} actions")
    kinds = {"design": "the design", "alternative": "design alternative fixed by the v8 changelog", "mutant": "mutant"}
    for section, key in (("variants", "variants"), ("invariants", "invariants"), ("goals", "goals"),
                         ("liveness (lbrspec check --liveness)", "liveness")):
        echo("")
        echo(f"{section}:")
        rows = data[key]
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            extra = ""
            if key == "variants":
                extra = f"  [{kinds.get(r['kind'], r['kind'])}" + (f"; breaks {r['expected']}]" if r["expected"] else "]")
            echo(f"  {r['name'].ljust(width)}  {r['description']}{extra}")
