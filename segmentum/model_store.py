"""Fitted objects saved as data (JSON and NumPy ``.npz``), never as pickle.

A run folder is something people email each other, so nothing read from it may run code.
:func:`dump` walks an object graph and writes plain data: numbers, strings, lists and dicts
to ``NAME.json``, NumPy arrays to ``NAME.npz`` (read back with ``allow_pickle=False``),
pandas frames column by column. Objects are written as their class name and attribute
dict, and :func:`load` rebuilds only classes named in an explicit ``trusted`` list: it
creates them without calling ``__init__`` (or ``__setstate__``, or any other method) and
sets the attributes, so a crafted file can at worst give wrong numbers, never run code.
A class that is not trusted is refused on both sides, naming the class.

>>> import numpy as np, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> dump({"w": np.arange(3.0), "k": (2, 3)}, folder, "demo", trusted=())
>>> load(folder, "demo", trusted=())["w"].tolist()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FORMAT = "segmentum.model_store"
FORMAT_VERSION = 1


class UntrustedModelError(ValueError):
    """A stored model names a class outside the trusted list, or is malformed."""


def type_name(cls: type) -> str:
    """``module.QualName`` of a class, as the trusted lists spell it."""
    return f"{cls.__module__}.{cls.__qualname__}"


def dump(obj: Any, folder: Path, name: str, *, trusted: Iterable[str]) -> list[Path]:
    """Write ``obj`` as ``folder/NAME.json`` and ``folder/NAME.npz``; return both paths.

    Raises
    ------
    TypeError
        When the graph holds an object of a class not in ``trusted`` (or one that is not
        data: a function, a file, a random generator), naming the class and where it is.
    """
    writer = _Writer(set(trusted))
    root = writer.node(obj, "root")
    json_path = folder / f"{name}.json"
    npz_path = folder / f"{name}.npz"
    header = {"format": FORMAT, "version": FORMAT_VERSION, "root": root}
    json_path.write_text(json.dumps(header, allow_nan=False), encoding="utf-8")
    with npz_path.open("wb") as handle:
        np.savez(handle, **writer.arrays)  # type: ignore[arg-type]
    return [json_path, npz_path]


def load(folder: Path, name: str, *, trusted: Iterable[str]) -> Any:
    """Rebuild what :func:`dump` wrote; only classes in ``trusted`` are created.

    Raises
    ------
    UntrustedModelError
        When the files name a class outside ``trusted`` or are not in this format.
    """
    json_path = folder / f"{name}.json"
    header = json.loads(json_path.read_text(encoding="utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UntrustedModelError(f"{json_path}: not a {FORMAT} file")
    if header.get("version") != FORMAT_VERSION:
        raise UntrustedModelError(
            f"{json_path}: format version {header.get('version')!r}, this segmentum reads "
            f"version {FORMAT_VERSION}"
        )
    with np.load(folder / f"{name}.npz", allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    try:
        return _Reader(set(trusted), arrays, json_path).node(header["root"])
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        if isinstance(exc, UntrustedModelError):
            raise
        raise UntrustedModelError(f"{json_path}: malformed ({type(exc).__name__}: {exc})") from None


def _float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


class _Writer:
    def __init__(self, trusted: set[str]):
        self.trusted = trusted
        self.arrays: dict[str, np.ndarray] = {}
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # objects stay alive while their id() is memoised

    def array(self, value: np.ndarray) -> str:
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return key

    def node(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return value
        if isinstance(value, float) and not isinstance(value, np.floating):
            return _float(value)
        if isinstance(value, list):
            return [self.node(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"$tuple": [self.node(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            tag = "$set" if isinstance(value, set) else "$frozenset"
            return {tag: [self.node(v, where) for v in sorted(value, key=repr)]}
        if isinstance(value, dict):
            return {
                "$items": [
                    [self.node(k, f"{where} key"), self.node(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ]
            }
        if isinstance(value, np.ndarray):
            return self.ndarray(value, where)
        if isinstance(value, np.generic):
            return self.scalar(value, where)
        if isinstance(value, np.dtype):
            if value.kind == "O" or value.fields is not None:
                raise TypeError(f"{where}: dtype {value} cannot be stored as data")
            return {"$dtype": value.str}
        if isinstance(value, pd.DataFrame):
            return self.frame(value, where)
        if isinstance(value, pd.Series):
            return {"$series": self.series(value, where)}
        if isinstance(value, pd.Index):
            return self.index(value, where)
        return self.object(value, where)

    def ndarray(self, value: np.ndarray, where: str) -> Any:
        if value.dtype.kind == "O":
            return {
                "$objarray": {
                    "shape": list(value.shape),
                    "items": [self.node(v, f"{where}[…]") for v in value.ravel().tolist()],
                }
            }
        if value.dtype.kind not in "biufcUSMm" or value.dtype.fields is not None:
            raise TypeError(f"{where}: array of dtype {value.dtype} cannot be stored as data")
        return {"$array": self.array(value)}

    def scalar(self, value: np.generic, where: str) -> Any:
        return {"$scalar": self.ndarray(np.asarray(value), where)}

    def series(self, s: pd.Series, where: str) -> dict[str, Any]:
        dtype = s.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            values: Any = {
                "$categorical": {
                    "codes": self.ndarray(s.cat.codes.to_numpy(), where),
                    "categories": self.index(dtype.categories, where),
                    "ordered": bool(dtype.ordered),
                }
            }
        elif isinstance(dtype, np.dtype) and dtype.kind != "O":
            values = self.ndarray(s.to_numpy(), where)
        else:
            items = [None if _is_na(v) else v for v in s.tolist()]
            values = {"$list": self.node(items, where), "dtype": str(dtype)}
        return {"name": self.node(s.name, where), "values": values}

    def frame(self, frame: pd.DataFrame, where: str) -> Any:
        if not frame.columns.is_unique:
            raise TypeError(f"{where}: a frame with duplicated column names cannot be stored")
        return {
            "$frame": {
                "columns": self.index(frame.columns, f"{where}.columns"),
                "data": [self.series(frame[c], f"{where}[{c!r}]") for c in frame.columns],
                "index": self.index(frame.index, f"{where}.index"),
            }
        }

    def index(self, index: pd.Index, where: str) -> Any:
        if isinstance(index, pd.MultiIndex):
            raise TypeError(f"{where}: a MultiIndex cannot be stored as data")
        name = self.node(index.name, where)
        if isinstance(index, pd.RangeIndex):
            return {"$range": [index.start, index.stop, index.step, name]}
        return {"$index": self.series(pd.Series(index, name=index.name), where)}

    def object(self, value: Any, where: str) -> Any:
        cls = type(value)
        qual = type_name(cls)
        if qual not in self.trusted:
            raise TypeError(
                f"{where}: an object of class {qual} cannot be stored: it is not in the "
                "trusted list (add it to the trusted types of the code that saves it, "
                "e.g. TRUSTED_TYPES in segmentum/segments/persist.py, if it is plain data)"
            )
        if id(value) in self.memo:
            return {"$ref": self.memo[id(value)]}
        ident = len(self.memo)
        self.memo[id(value)] = ident
        self.keep.append(value)
        state = getattr(value, "__dict__", None)
        if state is None:
            raise TypeError(f"{where}: {qual} keeps no attribute dict; it cannot be stored")
        return {
            "$obj": {
                "id": ident,
                "type": qual,
                "state": {str(k): self.node(v, f"{where}.{k}") for k, v in state.items()},
            }
        }


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


class _Reader:
    def __init__(self, trusted: set[str], arrays: dict[str, np.ndarray], path: Path):
        self.trusted = trusted
        self.arrays = arrays
        self.path = path
        self.memo: dict[int, Any] = {}

    def fail(self, what: str) -> UntrustedModelError:
        return UntrustedModelError(f"{self.path}: {what}")

    def node(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.node(v) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise self.fail(f"unexpected entry {str(node)[:80]!r}")
        ((tag, body),) = node.items()
        match tag:
            case "$f":
                return float(str(body))
            case "$tuple":
                return tuple(self.node(v) for v in body)
            case "$set":
                return {self.node(v) for v in body}
            case "$frozenset":
                return frozenset(self.node(v) for v in body)
            case "$items":
                return {self.node(k): self.node(v) for k, v in body}
            case "$array":
                if body not in self.arrays:
                    raise self.fail(f"array {body!r} is missing from the .npz file")
                return self.arrays[body]
            case "$objarray":
                items = [self.node(v) for v in body["items"]]
                out = np.empty(len(items), dtype=object)
                out[:] = items
                return out.reshape(tuple(int(n) for n in body["shape"]))
            case "$scalar":
                arr = self.node(body)
                return arr[()]
            case "$dtype":
                dtype = np.dtype(str(body))
                if dtype.kind == "O":
                    raise self.fail("object dtype in a stored model")
                return dtype
            case "$frame":
                columns = self.node(body["columns"])
                index = self.node(body["index"])
                series = [self.series(s).reset_index(drop=True) for s in body["data"]]
                if len(series) != len(columns):
                    raise self.fail("a frame whose columns and data do not match")
                frame = pd.DataFrame(dict(enumerate(series)), index=pd.RangeIndex(len(index)))
                frame.columns = columns
                frame.index = index
                return frame
            case "$series":
                return self.series(body)
            case "$range":
                start, stop, step, name = body
                return pd.RangeIndex(int(start), int(stop), int(step), name=self.node(name))
            case "$index":
                s = self.series(body)
                return pd.Index(s, name=s.name)
            case "$ref":
                if body not in self.memo:
                    raise self.fail(f"reference to unknown object {body!r}")
                return self.memo[body]
            case "$obj":
                return self.object(body)
        raise self.fail(f"unknown tag {tag!r}")

    def series(self, body: dict[str, Any]) -> pd.Series:
        name = self.node(body["name"])
        values = body["values"]
        if isinstance(values, dict) and "$categorical" in values:
            cat = values["$categorical"]
            data: Any = pd.Categorical.from_codes(
                self.node(cat["codes"]),
                categories=self.node(cat["categories"]),
                ordered=bool(cat["ordered"]),
            )
            return pd.Series(data, name=name)
        if isinstance(values, dict) and "$list" in values:
            items = self.node(values["$list"])
            dtype = str(values["dtype"])
            if dtype == "object":
                arr = np.empty(len(items), dtype=object)
                arr[:] = items
                return pd.Series(arr, name=name, dtype=object)
            try:
                return pd.Series(pd.array(items, dtype=dtype), name=name)
            except (TypeError, ValueError) as exc:
                raise self.fail(f"column {name!r}: cannot rebuild dtype {dtype!r}") from exc
        return pd.Series(self.node(values), name=name)

    def object(self, body: dict[str, Any]) -> Any:
        qual = str(body["type"])
        if qual not in self.trusted:
            raise self.fail(
                f"names class {qual}, which is not in the trusted list; it was not loaded"
            )
        cls = _resolve(qual)
        obj = cls.__new__(cls)
        self.memo[int(body["id"])] = obj
        state = {str(k): self.node(v) for k, v in body["state"].items()}
        obj.__dict__.update(state)
        return obj


def _resolve(qual: str) -> Any:
    """Import a trusted class by its ``module.QualName`` (modules tried longest first)."""
    parts = qual.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            target: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            target = getattr(target, attr)
        if not isinstance(target, type):
            raise UntrustedModelError(f"{qual} is not a class")
        return target
    raise UntrustedModelError(f"cannot import {qual}")
