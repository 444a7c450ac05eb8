"""The xgboost models of the v2 jet-parton assignment, read in Python and handed to C++ as plain arrays.

``cpp/ml.h`` evaluates a forest it is given (``rdf_ttbar::ml::add_forest``) and finds it by a key; the JSON is
read here, so no JSON parser is compiled into the analysis graph. The key is the model file's content hash
(``model_key``): the graph's C++ names no path, and the same models give the same compiled graph wherever the
package lies.

The arrays are those of ml.h's ``Node`` (8 bytes: value, left child, feature, flags), each tree's nodes numbered
breadth first from its root so that the two children of a split are adjacent (ml.h finds both from ``left``).
Values are xgboost's float32 split conditions and leaf values; ml.h computes the base margin from ``base_score``
as xgboost does (in float).

This module imports nothing of rdf_ttbar: its text runs as it is on Dask workers that lack the package
(``register`` there, with the uploaded copies found through ``$RDF_TTBAR_DATA_PATH``).
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array

LEAF, DEFAULT_LEFT = 1, 2  # ml.h's kLeaf, kDefaultLeft
MAX_NODES = 65536  # per tree: ml.h numbers children in 16 bits


def model_key(path: str) -> str:
    """The key ml.h knows a model by: a hash of the file's content."""
    with open(path, "rb") as file:
        return "xgboost-" + hashlib.sha256(file.read()).hexdigest()[:16]


def find_file(path: str) -> str:
    """``path``, or where it is missing (a Dask worker on another machine) a file of the same name in one of the
    folders of $RDF_TTBAR_DATA_PATH (':'-separated: the workers' uploaded copies)."""
    if os.path.isfile(path):
        return path
    name = os.path.basename(path)
    for folder in os.environ.get("RDF_TTBAR_DATA_PATH", "").split(":"):
        if folder and os.path.isfile(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise ValueError(f"cannot read the model file {path} (nor a file of its name in $RDF_TTBAR_DATA_PATH)")


def _float(value) -> float:
    """ "5E-1", "[5E-1]" (xgboost >= 3 writes a vector) or 0.5 -> 0.5"""
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).strip("[] "))


def read(path: str) -> dict:
    """The forest of an xgboost JSON model (binary:logistic, gbtree): ml.h's arrays and parameters."""
    with open(path) as file:
        doc = json.load(file)

    def bad(why: str) -> ValueError:
        return ValueError(f"the xgboost model {path}: {why}")

    try:
        learner = doc["learner"]
        objective = learner["objective"]["name"]
        booster = learner["gradient_booster"]
        param = learner["learner_model_param"]
        trees, tree_info = booster["model"]["trees"], booster["model"]["tree_info"]
        num_feature, base_score = int(param["num_feature"]), _float(param["base_score"])
    except (KeyError, TypeError, ValueError) as err:
        raise bad(f"not in xgboost's JSON model format ({type(err).__name__}: {err})") from None
    if objective not in ("binary:logistic", "reg:logistic"):
        raise bad(f"objective {objective} (only binary:logistic is supported)")
    if booster.get("name") != "gbtree":
        raise bad("only gbtree boosters are supported")
    if not 0.0 < base_score < 1.0:
        raise bad("base_score outside (0, 1)")
    value, left_out, feature, flags, roots = array("f"), array("H"), array("B"), array("B"), array("i")
    for t, tree in enumerate(trees):
        if tree_info[t] != 0:
            raise bad("more than one output group")
        left, right = tree["left_children"], tree["right_children"]
        index, cond, dleft = tree["split_indices"], tree["split_conditions"], tree["default_left"]
        kind = tree.get("split_type", [0] * len(left))
        n = len(left)
        if any(len(a) != n for a in (right, index, cond, dleft, kind)):
            raise bad("inconsistent tree arrays")
        if n == 0 or n > MAX_NODES:
            raise bad(f"a tree of no node or of more than {MAX_NODES} nodes")
        order, number = [0], [-1] * n  # breadth first from the root: the children of a split get adjacent numbers
        number[0] = 0
        for i in order:
            if left[i] < 0:
                continue
            if not (0 <= left[i] < n and 0 <= right[i] < n) or number[left[i]] >= 0 or number[right[i]] >= 0:
                raise bad("bad node")
            for c in (left[i], right[i]):
                number[c] = len(order)
                order.append(c)
        roots.append(len(value))
        for i in order:
            value.append(float(cond[i]))  # float32, as the C++ cast of the double
            if left[i] < 0:
                node = (0, 0, LEAF)
            elif kind[i] != 0:
                raise bad("categorical splits are not supported")
            elif not 0 <= index[i] < min(num_feature, 256):
                raise bad("bad node")
            else:
                node = (number[left[i]], index[i], DEFAULT_LEFT if dleft[i] else 0)
            left_out.append(node[0])
            feature.append(node[1])
            flags.append(node[2])
    return {
        "value": value,
        "left": left_out,
        "feature": feature,
        "flags": flags,
        "roots": roots,
        "base_score": base_score,
        "num_feature": num_feature,
    }


def register(key: str, path: str, target=None) -> None:
    """Hand the model of ``path`` to ml.h as ``key`` (once per process; ml.h declared first). ``target``: whose
    ``add_forest`` and ``has_forest`` (default ``rdf_ttbar::ml``'s, the interpreter's copy; a compiled graph's
    namespace forwards to the library's own copy)."""
    import ROOT

    ml = target if target is not None else ROOT.rdf_ttbar.ml
    if ml.has_forest(key):
        return
    f = read(find_file(path))
    ml.add_forest(
        key,
        f["value"],
        f["left"],
        f["feature"],
        f["flags"],
        len(f["value"]),
        f["roots"],
        len(f["roots"]),
        f["base_score"],
        f["num_feature"],
    )
