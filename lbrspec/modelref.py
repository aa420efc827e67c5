"""The model-module protocol, and loading a model module by reference (``--model REF``).

Every engine reads one built :class:`~lbrspec.lang.Model`; the commands also need what is
*around* it: which variants exist, the default one, instance sizes, liveness properties, lemmas
for ``prove``, and the model-specific parts of the generated docs.  A *model module* is a Python
module that provides these as attributes with the names below.  The module imports the language
(``lbrspec.lang``) and nothing else of lbrspec: engines read it, it never reads them.

Required:

``build(variant: str) -> Model``
    Build the product model of one variant.  Raises :class:`~lbrspec.errors.ModelError` for an
    ill-formed model (reported as one line, exit 2).
``VARIANTS: Mapping[str, Variant]``
    The variants ``build`` takes, by name (at least one).

Optional, with their defaults:

``DEFAULT_VARIANT: str``
    The variant a command uses without ``--variant`` (default: the first variant of kind
    ``"design"``, else the first).
``DEFAULT_SIZES: Mapping[str, int]``
    Sort sizes without ``--size`` (default: the built model's ``default_sizes``).
``LIVENESS_VARIANTS: Mapping[str, Variant]``
    Further variants that break a liveness property and no safety property (guest_lbr's
    ``never-free``); ``build`` takes them too (default: none).
``liveness(model) -> Sequence[Liveness]``
    The liveness properties of a built model, for ``check --liveness`` (default: none).
``LEMMAS: str | Callable[[Model], Sequence[tuple[str, Sequence[Invariant]]]]``
    The strengthening lemmas ``prove`` uses, by group: a function, or the name of one as
    ``"package.module"`` (its ``groups`` function) or ``"package.module:function"``.  A name is
    imported only when lemmas are needed, so a model never imports its proofs (guest_lbr:
    ``"lbrspec_proofs"``).  Default: no lemmas (``prove`` proves with the invariants alone).
``SORT_PLURALS: Mapping[str, str]``
    Plural display names of sorts in sentences (default: the sort name and ``s``).
``DOC_PROJECTIONS: Sequence[tuple[str, str, Sequence[str]]]``
    Projections of the reachable graph drawn by ``lbrspec docs``: (file stem, title, terms).
    Default: none.
``DOC_GRAPH_SIZES: Mapping[str, int]``
    The instance ``lbrspec docs`` draws its graph pages on (analysis, liveness, machine
    diagrams, projections), when the default one is too large to hold its graph in memory.
    Default: the default sizes.
``FINDINGS: Sequence``
    Places where the code the model follows breaks the design's own promises, for the docs'
    findings page: objects with ``key``, ``title``, ``code``, ``props``, ``variant``, ``fix``,
    ``fix_source``, ``patch``, ``raised`` and ``function`` (see ``models/guest_lbr.py``).
``REPRODUCERS: str | object``
    Reproducer data for the docs' ``reproducers.md`` (see :mod:`lbrspec.docgen.reproducers`): a
    module, or the name of one (``"package.module"``, imported only when the docs are generated,
    as ``LEMMAS`` is), with ``ACTIONS`` (action name -> annotations, each with ``who``, ``does``,
    ``functions``, ``commit``, and optional ``when`` (parameter values), ``switches`` (variant
    switch values), ``command`` and ``lands``) and optionally
    ``PROPERTIES``, ``SETUP``, ``CPU_NUMBERS``, ``INTRO``, ``VARIANT_NOTES``, ``SUMMARY_KINDS``
    and ``SUMMARY_PROPERTIES`` (see ``models/upstream_repro.py``).  Default: no such page.
``doc_fairness_demos(props) -> Sequence[tuple[str, str, str, Liveness, Mapping | None, Mapping]]``
    Liveness checks with weaker assumptions shown by ``lbrspec docs``, given the model's
    liveness properties: (file stem, title, explanation, property, sizes or ``None`` for the
    default instance, binding such as ``{"v": "v0"}``).  Default: none.
``OBSERVATIONS: Mapping[str, Observation]``
    The catalogue of properties ``lbrspec compare`` checks across designs (objects with
    ``name``, ``title``, ``doc`` and ``kind``).  Models compared with each other must give the
    same object (defined once, in a module they share).  A module that has it takes a keyword
    ``observe`` in ``build``: the names of the observations whose ghosts and property to build
    in (none by default, so no other command pays for them).
``OBSERVATION_GAPS: Mapping[str, str]``
    For each observation the model never declares, why (shown as *n.a.* by ``compare``).
``COMPARE_DESIGNS: Sequence[str]``
    The variants ``lbrspec compare`` puts in its table by default (default: the default variant).
``DOC_TEXT: Mapping[str, str]``
    Model-specific sentences of the generated docs (and the name ``lbrspec list`` gives a variant
    of kind ``"alternative"``); the keys and their generic defaults are :data:`DOC_TEXT_DEFAULTS`.

A reference (``--model REF``) is resolved by :func:`load_model`, in this order: the name of a
shipped model (``lbrspec_models.SHIPPED``); a path to a ``.py`` file, imported under a private
module name; a dotted module name that is importable.  A model file or module is Python and
runs like any import; trace files (ITF JSON) are data and are never executed.  A file is
imported under a private module name (the path of a shipped model's file gives the shipped
module itself), so a lemma provider that imports the model by module name would see other
sorts: a model with such lemmas is best selected as a module.  Anything wrong
with a reference (no such file or module, an import that raises, a module that does not follow
the protocol, a build that fails, an unknown variant) is an :class:`~lbrspec.errors.InputError`
whose text is one line.

A :class:`ModelModule` is a value passed to the code that needs it; nothing here remembers a
"current" model.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import InputError, LbrspecError
from .lang.liveness import Liveness
from .lang.spec import Invariant, Model, Variant

#: The model a command uses without ``--model``; its generated pages are the project's ``docs/``.
DEFAULT_MODEL = "guest_lbr"

#: The sentences of the generated docs a model module may replace (``DOC_TEXT``), with the
#: generic text used otherwise.
DOC_TEXT_DEFAULTS: dict[str, str] = {
    "cites": "the source",
    "variants": "The default design and its variants; each breaks the property named.",
    "docstring": "The model's docstring:",
    "citations_heading": "Sources it cites",
    "no_citations": "Nothing is cited by this machine, its transitions, or the properties that read its variables.",
    "lanes": "between the machines that take part in each step",
    "fairness_intro": "With weaker fairness assumptions than the catalogue's, the model fails these checks:",
    "fairness_column": "lasso",
    "liveness_rows": "One line per property and value of its parameters",
    "alternative": "design alternative",
}

#: Lemma groups: (group name, lemmas).
LemmaGroups = list[tuple[str, list[Invariant]]]

_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class FairnessDemo:
    """One liveness check with weaker assumptions, drawn in the docs (``doc_fairness_demos``)."""

    stem: str
    title: str
    why: str
    prop: Liveness
    sizes: Mapping[str, int] | None
    only: Mapping[str, str]


@dataclass(frozen=True)
class ModelModule:
    """A loaded model module that follows the protocol (see the module docstring).

    ``ref`` is the reference as given, ``name`` how messages name it (a shipped model's name,
    a module name, or a file path), ``kind`` one of ``"shipped"``, ``"module"``, ``"file"``.
    """

    ref: str
    name: str
    kind: str
    module: ModuleType
    variants: Mapping[str, Variant]
    liveness_variants: Mapping[str, Variant]
    default_variant: str
    doc_text: Mapping[str, str] = field(default_factory=dict)

    @property
    def check_deadlock(self) -> bool:
        """Whether a state without enabled actions is an error for this model by default
        (``CHECK_DEADLOCK``, default true; a protocol whose runs end, such as a finished
        transaction, sets it false, as TLC's configuration of it does)."""
        return bool(getattr(self.module, "CHECK_DEADLOCK", True))

    # -- variants and building -------------------------------------------------------------
    def all_variants(self) -> dict[str, Variant]:
        """Every variant ``build`` takes: the safety ones, then the liveness ones."""
        return {**self.variants, **self.liveness_variants}

    def variant_name(self, variant: str | None, *, liveness: bool = True) -> str:
        """``variant`` checked against the model's variants (``None``: the default; an empty name
        is refused, never taken for the default)."""
        if variant is not None and not variant.strip():
            raise InputError(f"--variant: an empty variant name (`lbrspec list --model {self.ref}` shows the variants)")
        name = self.default_variant if variant is None else variant
        known = self.all_variants() if liveness else dict(self.variants)
        if name not in known:
            raise InputError(f"unknown variant {name!r} of model {self.name}; known variants: {', '.join(known)}")
        return name

    def build(self, variant: str | None = None, *, liveness: bool = True, observe: tuple[str, ...] = ()) -> Model:
        """The built model of ``variant``; a failing build is one line, naming the model.
        ``observe``: the comparison's observations to build in (``lbrspec compare``)."""
        name = self.variant_name(variant, liveness=liveness)
        try:
            model = self.module.build(name, observe=observe) if observe else self.module.build(name)
        except LbrspecError as e:
            raise InputError(f"model {self.name}, variant {name}: {e}") from None
        except Exception as e:  # a model module is user code: any failure is bad input, one line
            raise InputError(f"model {self.name}: build({name!r}) raised {_one_line(e)}") from None
        if not isinstance(model, Model):
            raise InputError(f"model {self.name}: build({name!r}) returned {type(model).__name__}, "
                             "not an lbrspec.lang.Model")
        return model

    # -- sizes -----------------------------------------------------------------------------
    def default_sizes(self, model: Model) -> dict[str, int]:
        """``DEFAULT_SIZES`` if the module has it, else the built model's own."""
        given = getattr(self.module, "DEFAULT_SIZES", None)
        return dict(model.default_sizes) if given is None else {**model.default_sizes, **given}

    def sort_plural(self, sort: str) -> str:
        return dict(getattr(self.module, "SORT_PLURALS", None) or {}).get(sort, f"{sort}s")

    # -- liveness and lemmas ---------------------------------------------------------------
    @property
    def has_liveness(self) -> bool:
        return callable(getattr(self.module, "liveness", None))

    def liveness(self, model: Model) -> tuple[Liveness, ...]:
        """The model's liveness properties (none without ``liveness``)."""
        if not self.has_liveness:
            return ()
        props = self._call("liveness", self.module.liveness, model)
        if not isinstance(props, Sequence) or not all(isinstance(p, Liveness) for p in props):
            raise InputError(f"model {self.name}: liveness(model) must return a sequence of "
                             "lbrspec.lang.liveness.Liveness")
        return tuple(props)

    @property
    def has_lemmas(self) -> bool:
        return getattr(self.module, "LEMMAS", None) is not None

    def lemma_groups(self, model: Model) -> LemmaGroups:
        """The lemmas ``prove`` strengthens the invariants with, by group (none without ``LEMMAS``)."""
        provider = self._lemma_provider()
        if provider is None:
            return []
        groups = self._call("LEMMAS", provider, model)
        try:
            out = [(str(g), list(ls)) for g, ls in groups]
        except (TypeError, ValueError):
            raise InputError(f"model {self.name}: LEMMAS must give (group, lemmas) pairs") from None
        if not all(isinstance(lem, Invariant) for _, ls in out for lem in ls):
            raise InputError(f"model {self.name}: LEMMAS must give lbrspec.lang.Invariant lemmas")
        return out

    def lemma_source(self) -> str:
        """Where the lemmas come from, for messages: a package's folder (``proofs/``), a
        module's name, or the model itself."""
        spec = getattr(self.module, "LEMMAS", None)
        if not isinstance(spec, str):
            return f"model {self.name}"
        module = self._import_lemmas(spec.split(":", 1)[0])
        path = Path(getattr(module, "__file__", "") or "")
        return f"{path.parent.name}/" if path.name == "__init__.py" else module.__name__

    def _lemma_provider(self) -> Callable[[Model], Any] | None:
        spec = getattr(self.module, "LEMMAS", None)
        if spec is None or callable(spec):
            return spec
        modname, _, func = spec.partition(":")
        fn = getattr(self._import_lemmas(modname), func or "groups", None)
        if not callable(fn):
            raise InputError(f"model {self.name}: LEMMAS names {spec!r}, which has no function {func or 'groups'}")
        return fn

    def _import_lemmas(self, modname: str, what: str = "lemmas") -> ModuleType:
        try:
            return importlib.import_module(modname)
        except Exception as e:
            raise InputError(f"model {self.name}: importing its {what} {modname!r} raised {_one_line(e)}") from None

    # -- docs hooks ------------------------------------------------------------------------
    def doc_graph_sizes(self, model: Model) -> dict[str, int]:
        """The instance the docs' graph pages (analysis, liveness, machine diagrams, projections)
        are drawn on: ``DOC_GRAPH_SIZES``, else the default sizes (a model whose default instance
        is too large for a graph in memory names a smaller one)."""
        given = getattr(self.module, "DOC_GRAPH_SIZES", None)
        return dict(given) if given else self.default_sizes(model)

    def findings(self) -> list[Any]:
        """The model's ``FINDINGS``: places where the code it models breaks the design's promises,
        each with (at least) ``key``, ``title``, ``code``, ``props``, ``variant``, ``fix``,
        ``fix_source``, ``patch``, ``raised`` and ``function`` (see ``models/guest_lbr.py``)."""
        return list(getattr(self.module, "FINDINGS", ()))

    def reproducers(self) -> Any | None:
        """The model's reproducer data (``REPRODUCERS``, a module name imported here), or ``None``."""
        spec = getattr(self.module, "REPRODUCERS", None)
        if spec is None:
            return None
        d = self._import_lemmas(spec, "reproducer data") if isinstance(spec, str) else spec
        if not isinstance(getattr(d, "ACTIONS", None), Mapping):
            raise InputError(f"model {self.name}: REPRODUCERS has no ACTIONS mapping")
        return d

    def doc_projections(self) -> list[tuple[str, str, list[str]]]:
        return [(stem, title, list(terms)) for stem, title, terms in getattr(self.module, "DOC_PROJECTIONS", ())]

    def fairness_demos(self, props: Sequence[Liveness]) -> list[FairnessDemo]:
        hook = getattr(self.module, "doc_fairness_demos", None)
        if hook is None:
            return []
        try:
            return [FairnessDemo(stem, title, why, prop, sizes, dict(only))
                    for stem, title, why, prop, sizes, only in self._call("doc_fairness_demos", hook, props)]
        except (TypeError, ValueError):
            raise InputError(f"model {self.name}: doc_fairness_demos must give (stem, title, why, property, "
                             "sizes, binding) tuples") from None

    def text(self, key: str) -> str:
        """A docs sentence: the model's ``DOC_TEXT[key]``, else the generic one."""
        return self.doc_text.get(key, DOC_TEXT_DEFAULTS[key])

    @property
    def summary(self) -> str:
        """The first line of the module's docstring."""
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def source(self) -> str:
        """Where the model is written, for the generated docs: ``models/guest_lbr.py``, a file
        path as given, or a module name."""
        if self.kind == "shipped":
            return f"models/{self.name}.py"
        return self.ref if self.kind == "file" else f"module {self.name}"

    @property
    def is_project_default(self) -> bool:
        """The shipped default model, whose generated pages are the project's ``docs/``."""
        return self.kind == "shipped" and self.name == DEFAULT_MODEL

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except LbrspecError as e:
            raise InputError(f"model {self.name}: {what}: {e}") from None
        except Exception as e:
            raise InputError(f"model {self.name}: {what} raised {_one_line(e)}") from None


# -- loading -------------------------------------------------------------------------------------
def shipped_models() -> tuple[str, ...]:
    """The names of the models lbrspec ships (``lbrspec_models.SHIPPED``)."""
    import lbrspec_models

    return tuple(lbrspec_models.SHIPPED)


def _shipped_module(name: str) -> str:
    import lbrspec_models

    return lbrspec_models.SHIPPED[name]


def load_model(ref: str | None = None) -> ModelModule:
    """Resolve ``ref`` (``None``: the default model) to a module that follows the protocol."""
    ref = DEFAULT_MODEL if ref is None else ref
    if not ref.strip():
        raise InputError("--model: empty model reference")
    if ref in shipped_models():
        return check_protocol(_import(_shipped_module(ref), ref), ref, ref, "shipped")
    if ref.endswith(".py") or "/" in ref or "\\" in ref or _is_file(Path(ref)):
        shipped = _shipped_file(ref)
        if shipped is not None:  # the shipped module itself, so that its lemmas see the same sorts
            return check_protocol(_import(_shipped_module(shipped), ref), ref, shipped, "shipped")
        return check_protocol(_import_file(ref), ref, ref, "file")
    if _DOTTED.match(ref):
        module = _import(ref, ref)
        short = next((n for n in shipped_models() if _shipped_module(n) == ref), None)
        if short is not None:
            return check_protocol(module, ref, short, "shipped")
        return check_protocol(module, ref, ref, "module")
    raise InputError(f"--model {ref}: not a shipped model ({', '.join(shipped_models())}), a .py file or a module name")


def _import(modname: str, ref: str) -> ModuleType:
    import os
    import sys

    # like `python -m`, a module given by name is looked for in the working directory too
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)
    try:
        return importlib.import_module(modname)
    except ModuleNotFoundError as e:
        if e.name is not None and (modname == e.name or modname.startswith(e.name + ".")):
            raise InputError(f"--model {ref}: no such model, file or module (shipped models: "
                             f"{', '.join(shipped_models())})") from None
        raise InputError(f"--model {ref}: importing it raised {_one_line(e)}") from None
    except Exception as e:
        raise InputError(f"--model {ref}: importing it raised {_one_line(e)}") from None
    except SystemExit as e:
        raise InputError(f"--model {ref}: importing it raised SystemExit({e.code!r})") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def _is_file(path: Path) -> bool:
    """``path.is_file()``, and ``False`` for a path that cannot even be looked at (a name too
    long for the file system, a directory that cannot be searched): pathlib raises for those."""
    try:
        return path.is_file()
    except OSError:
        return False


def _shipped_file(ref: str) -> str | None:
    """The shipped model whose source file ``ref`` is, if any."""
    path = Path(ref)
    if not _is_file(path):
        return None
    for name in shipped_models():
        spec = importlib.util.find_spec(_shipped_module(name))
        if spec is not None and spec.origin and Path(spec.origin).resolve() == path.resolve():
            return name
    return None


def _import_file(ref: str) -> ModuleType:
    """Import a model file under a private module name (one per path), so that two files of the
    same name never clash and nothing of the user's is shadowed."""
    path = Path(ref)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except OSError as e:  # a name too long, a directory that cannot be searched
        raise InputError(f"--model {ref}: cannot be read: {e.strerror or e}") from None
    if is_dir:
        raise InputError(f"--model {ref}: is a directory, not a .py file")
    if not is_file:
        raise InputError(f"--model {ref}: no such file")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    modname = f"_lbrspec_model_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(modname, resolved)
    if spec is None or spec.loader is None:
        raise InputError(f"--model {ref}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module  # dataclasses and pickling look a class's module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException as e:
        del sys.modules[modname]
        if isinstance(e, KeyboardInterrupt):
            raise
        what = f"SystemExit({e.code!r})" if isinstance(e, SystemExit) else _one_line(e)
        raise InputError(f"--model {ref}: importing it raised {what}") from None
    return module


def check_protocol(module: ModuleType, ref: str, name: str, kind: str) -> ModelModule:
    """A :class:`ModelModule` for ``module``, or one line saying which attribute is missing or
    of the wrong type."""

    def bad(what: str) -> InputError:
        return InputError(f"--model {ref}: does not follow the model protocol: {what}")

    if not callable(getattr(module, "build", None)):
        raise bad("no build(variant) function")
    if not isinstance(getattr(module, "CHECK_DEADLOCK", True), bool):
        raise bad("CHECK_DEADLOCK must be True or False")
    variants = _variant_map(getattr(module, "VARIANTS", None), "VARIANTS", bad, required=True)
    live = _variant_map(getattr(module, "LIVENESS_VARIANTS", None), "LIVENESS_VARIANTS", bad, required=False)
    default = getattr(module, "DEFAULT_VARIANT", None)
    if default is None:
        default = next((n for n, v in variants.items() if v.kind == "design"), next(iter(variants)))
    elif not isinstance(default, str) or default not in variants:
        raise bad(f"DEFAULT_VARIANT {default!r} is not one of VARIANTS ({', '.join(variants)})")
    _check_sizes(getattr(module, "DEFAULT_SIZES", None), "DEFAULT_SIZES", bad)
    _check_sizes(getattr(module, "DOC_GRAPH_SIZES", None), "DOC_GRAPH_SIZES", bad)
    _check_sizes(getattr(module, "SORT_PLURALS", None), "SORT_PLURALS", bad, values=str)
    for attr in ("liveness", "doc_fairness_demos"):
        if getattr(module, attr, None) is not None and not callable(getattr(module, attr)):
            raise bad(f"{attr} must be a function")
    lemmas = getattr(module, "LEMMAS", None)
    if lemmas is not None and not (callable(lemmas) or (isinstance(lemmas, str) and lemmas)):
        raise bad("LEMMAS must be a function or the name of a module ('package.module[:function]')")
    repro = getattr(module, "REPRODUCERS", None)
    if repro is not None and isinstance(repro, str) and not _DOTTED.match(repro):
        raise bad("REPRODUCERS must be a module or the name of one ('package.module')")
    _check_projections(getattr(module, "DOC_PROJECTIONS", None), bad)
    doc_text = getattr(module, "DOC_TEXT", None) or {}
    if not isinstance(doc_text, Mapping) or not all(isinstance(v, str) for v in doc_text.values()):
        raise bad("DOC_TEXT must map keys to strings")
    unknown = sorted(set(doc_text) - set(DOC_TEXT_DEFAULTS))
    if unknown:
        raise bad(f"DOC_TEXT has unknown key(s) {', '.join(map(repr, unknown))}; known: {', '.join(DOC_TEXT_DEFAULTS)}")
    return ModelModule(ref, name, kind, module, variants, live, default, dict(doc_text))


def _variant_map(value: object, attr: str, bad: Callable[[str], InputError], *, required: bool) -> dict[str, Variant]:
    if value is None:
        if required:
            raise bad(f"no {attr} (a mapping of names to lbrspec.lang.Variant)")
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, Variant) for k, v in value.items()):
        raise bad(f"{attr} must be a mapping of names to lbrspec.lang.Variant, got {type(value).__name__}")
    if required and not value:
        raise bad(f"{attr} is empty")
    return dict(value)


def _check_sizes(value: object, attr: str, bad: Callable[[str], InputError], values: type = int) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, values) and not isinstance(v, bool) for k, v in value.items()):
        raise bad(f"{attr} must be a mapping of sort names to {values.__name__}, got {type(value).__name__}")


def _check_projections(value: object, bad: Callable[[str], InputError]) -> None:
    if value is None:
        return
    ok = isinstance(value, Sequence) and all(
        isinstance(p, Sequence) and len(p) == 3 and isinstance(p[0], str) and isinstance(p[1], str)
        and isinstance(p[2], Sequence) and not isinstance(p[2], str) and all(isinstance(t, str) for t in p[2])
        for p in value)
    if not ok:
        raise bad("DOC_PROJECTIONS must be a sequence of (stem, title, [term, ...])")


def _one_line(e: BaseException) -> str:
    """``TypeError: message`` on one line, whatever the message holds."""
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
