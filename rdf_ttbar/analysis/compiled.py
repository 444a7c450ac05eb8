"""The compiled build: the analysis graph (``nodes.sample_nodes``) as generated, typed C++.

Each node's C++ text becomes the body of a lambda whose arguments are the columns it reads, typed by
the definition's input types and, for defined columns, by what the lambdas return
(``rdf_ttbar::column_type``). The source (``cpp/graph_template.cxx``) is built once per definition,
ROOT installation and compiler by ``rdf_ttbar.analysis.native`` into the cache folder; it has one entry point per
set of input column types it accepts (NanoAOD's in a TTree and in an RNTuple).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re

from .. import cpp
from .model import Analysis
from .nodes import POSITIONS, Node, sample_nodes

# RDataFrame's spellings of a column type -> one C++ spelling (TTree and RNTuple name them differently):
# each line is the canonical spelling, then ":" and the others
_SCALAR_TABLE = """
float: Float_t
double: Double_t
bool: Bool_t
unsigned char: UChar_t std::uint8_t
char: Char_t std::int8_t
short: Short_t std::int16_t
unsigned short: UShort_t std::uint16_t
int: Int_t std::int32_t
unsigned int: UInt_t std::uint32_t
long: Long_t std::int64_t
unsigned long: ULong_t std::uint64_t
long long: Long64_t
unsigned long long: ULong64_t
"""
_SCALARS = {
    canonical: (*others.split(), canonical)
    for canonical, others in (line.split(": ", 1) for line in _SCALAR_TABLE.strip().splitlines())
}
_CANONICAL = {spelling: c for c, spellings in _SCALARS.items() for spelling in spellings}
_SHORT_VECTORS = {"ROOT::RVecF": "float", "ROOT::RVecD": "double", "ROOT::RVecI": "int", "ROOT::RVecU": "unsigned int"}
_VECTOR = re.compile(r"^ROOT::(?:VecOps::)?RVec<\s*(.+?)\s*>$")
# 64-bit integers: ULong64_t in a TTree is std::uint64_t (unsigned long) in an RNTuple
_SAME_WIDTH = {"unsigned long long": "unsigned long", "long long": "long"}


def canonical(type_name: str) -> str:
    """One spelling of a column type: 'ROOT::VecOps::RVec<Float_t>' -> 'ROOT::RVec<float>', 'UInt_t' -> ...."""
    type_name = type_name.strip()
    if type_name in _SHORT_VECTORS:
        return f"ROOT::RVec<{_SHORT_VECTORS[type_name]}>"
    match = _VECTOR.match(type_name)
    if match:
        return f"ROOT::RVec<{canonical(match.group(1))}>"
    return _CANONICAL.get(type_name, type_name)


def type_variants(analysis: Analysis) -> list[tuple[str, ...]]:
    """The input column types the library is built for: the definition's, with each 64-bit integer
    column also in its other spelling."""
    choices = []
    for declared in analysis.inputs.values():
        c = canonical(declared)
        choices.append((c, _SAME_WIDTH[c]) if c in _SAME_WIDTH else (c,))
    return list(itertools.product(*choices))


def _string(text: str) -> str:
    return json.dumps(text)


def _body(expression: str) -> str:
    if re.search(r"\breturn\b", expression):
        return "\n".join("      " + line for line in expression.splitlines())
    return f"      return {expression};"


def _statement(i: int, node: Node, vary_index: int) -> str:
    params = ", ".join(f"const T_{c} &{c}" for c in node.columns)
    columns = "{" + ", ".join(_string(c) for c in node.columns) + "}"
    types = "".join(f", T_{c}" for c in node.columns)
    if node.kind == "weight":
        return (
            f"   auto f{i} = [weight] {{ return weight; }};\n"
            f"   using T_{node.name} = rdf_ttbar::column_type<decltype(f{i})>;\n"
            f"   node = node.Define({_string(node.name)}, f{i}, {{}});"
        )
    returns = " -> bool" if node.kind == "filter" else ""
    head = f"   auto f{i} = []({params}){returns} {{\n{_body(node.expression)}\n   }};\n"
    if node.kind == "define":
        return (
            head + f"   using T_{node.name} = rdf_ttbar::column_type<decltype(f{i}){types}>;\n"
            f"   node = node.Define({_string(node.name)}, f{i}, {columns});"
        )
    if node.kind == "filter":
        return head + f"   node = node.Filter(f{i}, {columns}, {_string(node.name)});"
    directions = "{" + ", ".join(_string(d) for d in node.directions) + "}"
    return head + (
        f"   if (vary[{vary_index}])\n      node = node.Vary({_string(node.column)}, f{i}, {columns}, "
        f"{directions}, {_string(node.name)});"
    )


# with xgboost models (cpp/ml.h): the library's own copy of ml.h's model registry is filled through these (the
# interpreter's copy, which the jitted build uses, is another one)
_MODEL_SIGNATURES = (
    "void add_forest(const std::string &key, const float *value, const std::uint16_t *left, "
    "const std::uint8_t *feature, const std::uint8_t *flags, std::size_t n_nodes, const std::int32_t *roots, "
    "std::size_t n_trees, float base_score, int num_feature)",
    "bool has_forest(const std::string &key)",
)
_MODEL_CALLS = (
    "rdf_ttbar::ml::add_forest(key, value, left, feature, flags, n_nodes, roots, n_trees, base_score, num_feature)",
    "return rdf_ttbar::ml::has_forest(key)",
)
_MODEL_ENTRIES = "".join(f"{s}\n{{\n   {c};\n}}\n" for s, c in zip(_MODEL_SIGNATURES, _MODEL_CALLS))
_MODEL_DECLARATIONS = "".join(f"\n{s};" for s in _MODEL_SIGNATURES)


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def _entry(i: int) -> str:
    return (
        f"BookedGraph book_{i}(ROOT::RDF::RNode df, double weight, const std::vector<int> &vary, "
        f"const ROOT::RDF::TH1DModel &model)"
    )


def sources(analysis: Analysis, namespace: str) -> tuple[str, str]:
    """The generated source and its header of entry points (``book_{i}`` for ``type_variants()[i]``)."""
    nodes = sample_nodes(analysis)
    varies = [n for n in nodes if n.kind == "vary"]
    statements = "\n".join(_statement(i, n, varies.index(n) if n in varies else -1) for i, n in enumerate(nodes))
    inputs = list(analysis.inputs)
    variants = type_variants(analysis)
    entries = "\n".join(
        f"{_entry(i)}\n{{\n   return book<{', '.join(v)}>(df, weight, vary, model);\n}}\n"
        for i, v in enumerate(variants)
    )
    values = {
        "NAME": analysis.name,
        "NAMESPACE": namespace,
        "INCLUDES": "\n".join(f'#include "{spelling}"' for spelling in _included(analysis)),
        "TYPE_PARAMETERS": ", ".join(f"typename T_{c}" for c in inputs),
        "NODES": statements,
        "FILL_COLUMNS": f"{_string(POSITIONS)}, {_string(analysis.weight_column)}",
        "ENTRIES": entries + (_MODEL_ENTRIES if analysis.models else ""),
        "DECLARATIONS": "\n".join(f"{_entry(i)};" for i in range(len(variants)))
        + (_MODEL_DECLARATIONS if analysis.models else ""),
    }
    return (
        _fill(cpp.read_template("graph_template.cxx"), values),
        _fill(cpp.read_template("graph_template.h"), values),
    )


def _included(analysis: Analysis) -> list[str]:
    """How the source includes each header: by its name (its folder is in ``include_dirs``), so that the source
    does not depend on where the package lies; by its path only where another header has the same name."""
    names = [cpp.header_path(h).name for h in ("graph.h", *analysis.headers)]
    return [str(path) if names.count(path.name) > 1 else path.name for path in map(cpp.header_path, analysis.headers)]


def include_dirs(analysis: Analysis) -> list[str]:
    """The folders of the headers the source includes by name: cpp/, then those of a definition's own headers."""
    folders = [cpp.cpp_dir()] + [cpp.header_path(h).parent for h in analysis.headers]
    return [str(f) for f in dict.fromkeys(folders)]


def key(analysis: Analysis) -> str:
    """What identifies a definition's library: its generated source and the contents of the headers it includes
    (not their paths: two copies of the package with the same headers share one library)."""
    digest = hashlib.sha256(sources(analysis, "NS")[0].encode())
    for header in ("graph.h", *analysis.headers):
        digest.update(cpp.header_path(header).read_bytes())
    return digest.hexdigest()[:16]
