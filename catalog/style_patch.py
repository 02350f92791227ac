"""CSL `<substitute>` done right on top of citeproc-py 0.11.1.

CSL 1.0.2, "Substitute": when the variables of a `cs:names` element are empty, the
first child of its `cs:substitute` that renders output takes its place, and
"substituted variables are suppressed in the rest of the output to prevent
duplication". Shorthand `<names variable="..."/>` children inherit the `cs:name`,
`cs:et-al` (and, as in citeproc-js, `cs:label`) children of the original `cs:names`.

citeproc-py gets both wrong, which is what breaks records without an author:

* it suppresses only `<text variable="x"/>` written directly inside `<substitute>`:
  nothing rendered through a macro (`<text macro="title"/>`, how Chicago, APA and MLA
  substitute the title) and no `<names>` (the translator) is ever suppressed, so the
  title or the translator is printed twice;
* it passes the original `cs:names` to shorthand `<names>` only when they are direct
  children of `<substitute>`; inside a `<choose>` (Chicago's translator) they get a
  bare default `<name/>` and no label ("Gary Goldberg." for "Goldberg, Gary, trans.").

`SubstitutingStyle` parses a style with element classes that fix both, through
lxml's per-parser class lookup: citeproc-py's classes are not changed for anyone
else, and the style file is not changed. While a `<substitute>` child renders, every
variable it prints (text, names, date, number; through any depth of macros) is
collected; once a child has produced output, those variables are suppressed for the
rest of that entry (rendering only: conditions still see them, so the usual branch is
taken and prints nothing, rather than a fallback such as "[Untitled]"). The state
lives in the layout's `repressed` dict, which citeproc-py resets for every entry and
before every sort-key pass.

One more rule of the same kind: citeproc-py prints a `literal` date in every date
element that shows a part of it (APA: "(undated, undated)"; Chicago author-date:
the year slot and the month-day slot). A literal date has no parts, so it is
printed once, in the first date element that renders it.
"""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from citeproc import CitationStylesStyle
from citeproc.model import CitationStylesElement, Date, Locale, Names, Number, Substitute, Text
from citeproc.source import LiteralDate, VariableError
from lxml import etree

CSL_NS = "http://purl.org/net/xbiblio/csl"
_STATE_KEY = "wcda:substitute"  # a key citeproc-py's own tag-keyed entries cannot clash with


def _base(variable: str) -> str:
    # `title-short` is a form of `title`: suppressing one suppresses both
    return variable[: -len("-short")] if variable.endswith("-short") else variable


def _state(context: Any) -> dict[str, Any] | None:
    try:
        layout = context.get_layout()
    except (AttributeError, IndexError):
        return None
    repressed = getattr(layout, "repressed", None)
    if repressed is None:
        return None
    return repressed.setdefault(_STATE_KEY, {"suppressed": set(), "collecting": []})


def _suppressed(context: Any, variable: str | None) -> bool:
    state = _state(context)
    return bool(state and variable and _base(variable) in state["suppressed"])


def _used(context: Any, variable: str) -> None:
    state = _state(context)
    if state:
        for collected in state["collecting"]:
            collected.add(_base(variable))


class SubstitutingText(Text):
    def _variable(self, item, context):  # type: ignore[no-untyped-def]
        variable = self.get("variable")
        if _suppressed(context, variable):
            return None
        text = super()._variable(item, context)
        if text:
            _used(context, variable)
        return text


class SubstitutingNumber(Number):
    def process(self, item, context=None, **kwargs):  # type: ignore[no-untyped-def]
        variable = self.get("variable")
        context = self if context is None else context
        if _suppressed(context, variable):
            return None
        text = super().process(item, context=context, **kwargs)
        if text:
            _used(context, variable)
        return text


class SubstitutingDate(Date):
    def process(self, item, variable=None, show_parts=None, context=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.is_locale_date():
            # a locale's date form, called by a style <date>: that element did the checks
            return super().process(item, variable, show_parts, context, **kwargs)
        name = variable or self.get("variable")
        check = self if context is None else context
        if _suppressed(check, name):
            return None
        literal = _is_literal(item, name)
        state = _state(check)
        if literal and state is not None and name in state.setdefault("literal_dates", set()):
            return None  # a literal date is printed once, where the style first puts the date
        text = super().process(item, variable, show_parts, context, **kwargs)
        if text:
            _used(check, name)
            if literal and state is not None:
                state["literal_dates"].add(name)
        return text


def _is_literal(item: Any, variable: str | None) -> bool:
    try:
        return isinstance(item.reference[(variable or "").replace("-", "_")], LiteralDate)
    except (VariableError, KeyError):
        return False


class SubstitutingNames(Names):
    def process(self, item, names_context=None, context=None, **kwargs):  # type: ignore[no-untyped-def]
        if context is None:
            context = self
        if names_context is None:
            names_context = self._inherited_context()
        variables = self.get("variable", "").split()
        state = _state(context)
        hidden = [v for v in variables if state and _base(v) in state["suppressed"]]
        if hidden:
            # render as if the suppressed variables were empty
            kept = [v for v in variables if v not in hidden]
            if not kept:
                substitute = self.substitute()
                if substitute is None:
                    raise VariableError
                return substitute.render(item, context=context, **kwargs)
            self.set("variable", " ".join(kept))
        try:
            text = super().process(item, names_context=names_context, context=context, **kwargs)
        finally:
            if hidden:
                self.set("variable", " ".join(variables))
        if text:
            for variable in variables:
                if variable not in hidden and variable in item.reference:
                    _used(context, variable)
        return text

    def _inherited_context(self) -> Names:
        """For a shorthand <names> anywhere inside a <substitute>: the original <names>."""
        if self.name is not None:  # has its own <name> (citeproc-py's test for direct children)
            return self
        for ancestor in self.iterancestors():
            if isinstance(ancestor, Substitute):
                parent = ancestor.getparent()
                return parent if isinstance(parent, Names) else self
            if isinstance(ancestor, Names):
                return self
        return self


class SubstitutingSubstitute(Substitute):
    def render(self, item, context=None, **kwargs):  # type: ignore[no-untyped-def]
        context = self if context is None else context
        state = _state(context)
        text = None
        for child in self.getchildren():
            if state is not None:
                state["collecting"].append(set())
            try:
                if isinstance(child, Names) and child.name is None:
                    names = self.getparent()
                    text = child.render(item, names_context=names, context=context, **kwargs)
                else:
                    text = child.render(item, context=context, **kwargs)
            except VariableError:
                text = None
            finally:
                used = state["collecting"].pop() if state is not None else set()
            if text:
                if state is not None:
                    state["suppressed"] |= used
                    for outer in state["collecting"]:  # a substitute inside a substitute
                        outer |= used
                break
        return text or None


class _RememberedSearches:
    """citeproc-py asks its style tree the same questions over and over: which macro is called
    "title" (an XPath search from the root for every `<text macro>` and every `calls_variable`
    check), which layout, citation or term an element is in. The tree does not change while
    entries render (SubstitutingNames only swaps a `variable` attribute, which no search reads),
    so each element remembers its answers: Chicago's 100-record bibliography made ~75,000
    searches, half of its time."""

    def xpath_search(self, expression: str) -> Any:
        # in the instance's own dict: citeproc-py's elements answer unknown attributes with a child search
        memo = self.__dict__.setdefault("_searches", {})
        found = memo.get(expression)
        if found is None:
            found = memo[expression] = super().xpath_search(expression)  # type: ignore[misc]
        return found


class _RememberedCallsVariable:
    """`calls_variable` (does this group print a variable?) depends on the tree alone, and a
    group asks it of every descendant each time it renders: 180,000 calls for 100 entries."""

    def calls_variable(self) -> bool:
        memo = self.__dict__
        if "_calls_variable" not in memo:
            memo["_calls_variable"] = super().calls_variable()  # type: ignore[misc]
        return bool(memo["_calls_variable"])


class _RememberedTerms:
    """A term ("and", "et-al", "translator"...) as the style's locales give it, looked up once
    per style: each lookup is an XPath search of a locale file's ~500 terms."""

    def get_term(self, name: str, form: str | None = None, fallback_locale: bool = True,
                 zero_padded: bool = False) -> Any:
        memo = self.get_root().__dict__.setdefault("_terms", {})  # type: ignore[attr-defined]
        key = (name, form, fallback_locale, zero_padded)
        if key not in memo:
            memo[key] = super().get_term(name, form, fallback_locale, zero_padded)  # type: ignore[misc]
        return memo[key]


def _remembering(cls: type) -> type:
    mixins: list[type] = [_RememberedSearches]
    if "calls_variable" in dir(cls):
        mixins.append(_RememberedCallsVariable)
    if not issubclass(cls, Locale):  # a locale's own get_term takes other arguments (and is what is remembered)
        mixins.append(_RememberedTerms)
    return type(cls.__name__, (*mixins, cls), {})


@cache
def _element_classes() -> dict[str | None, type]:
    """Tag -> element class: citeproc-py's, our overrides, each remembering its searches."""
    classes: dict[str | None, type] = {None: CitationStylesElement}
    classes.update({cls.__name__.replace("_", "-").lower(): cls for cls in CitationStylesElement.__subclasses__()})
    classes.update(_OVERRIDES)
    return {tag: _remembering(cls) for tag, cls in classes.items()}


_OVERRIDES: dict[str, type] = {
    "text": SubstitutingText,
    "number": SubstitutingNumber,
    "date": SubstitutingDate,
    "names": SubstitutingNames,
    "substitute": SubstitutingSubstitute,
}


class SubstitutingStyle(CitationStylesStyle):
    """citeproc-py's CitationStylesStyle, parsed with the element classes above."""

    def __init__(self, data: bytes, locale: str | None = None) -> None:
        lookup = etree.ElementNamespaceClassLookup()
        namespace = lookup.get_namespace(CSL_NS)
        namespace.update(_element_classes())
        self.parser = etree.XMLParser(remove_comments=True, encoding="UTF-8", no_network=True,
                                      resolve_entities=False)  # a style from outside is untrusted XML
        self.parser.set_element_class_lookup(lookup)
        self.xml = etree.parse(io.BytesIO(data), self.parser)
        self.root = self.xml.getroot()
        self.root.set_locale_list(locale or self.root.get("default-locale", "en-US"), validate=False)
        # Every element's Python object kept alive, so the answers it remembers are kept too
        # (lxml makes a new proxy, with an empty memory, for a node no one holds).
        self._elements = list(self.root.iter())
