"""What a learner's answer may return, as plain data that a check can trust.

A check never compares with the learner's own objects: an object whose ``__eq__`` always says True,
a tensor subclass or a number that lies about itself would fool it. The answer's value is turned into
*plain data* first — ``None``, ``bool``, ``int``, ``float``, ``str``, numpy arrays, torch tensors, and
tuples, lists and dicts of these — by :func:`encode`, which writes JSON text, and :func:`decode`, which
reads it back strictly. The grader runs :func:`encode` in the sandboxed worker and :func:`decode` in
its own process, so only JSON crosses; a learner's notebook runs both in one process, so the learner
sees exactly what the grader sees.
"""

from __future__ import annotations

import base64
import json

import numpy as np

# Array dtypes that may cross; anything else is refused with its name.
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "complex64", "complex128")
MAX_DEPTH = 32
MAX_ITEMS = 100_000


class DataError(ValueError):
    """A value that is not plain data; the message names what was found."""


_NAMES = {bool: "a bool", int: "an int", float: "a float", str: "a string", list: "a list", tuple: "a tuple", dict: "a dict"}


def describe(value) -> str:
    """A learner-facing name of a value's type, e.g. ``'a tuple'`` or ``'an AlwaysEqual object'``."""
    if value is None:
        return "None"
    if type(value) in _NAMES:
        return _NAMES[type(value)]
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name} object"


def _array(kind: str, array: np.ndarray) -> dict:
    array = np.ascontiguousarray(array)
    return {kind: {"dtype": array.dtype.name, "shape": list(array.shape), "data": base64.b64encode(array.tobytes()).decode()}}


def _plain(value, depth: int = 0):
    """The JSON-able form of ``value``; objects that are not data become ``{"object": type name}``."""
    import torch  # the worker and every check import torch anyway; keep this module light to import

    if depth > MAX_DEPTH:
        raise DataError(f"a value nested more than {MAX_DEPTH} levels deep")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"float": repr(value)}  # repr round-trips exactly, nan and inf included
    if isinstance(value, np.generic):
        return _plain(value.item(), depth + 1)
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return _array("tensor", tensor.resolve_conj().resolve_neg().numpy())
    if isinstance(value, np.ndarray):
        if value.dtype.name not in DTYPES:
            return {"object": f"numpy array of dtype {value.dtype.name}"}
        return _array("array", value)
    if type(value) in (list, tuple):
        return {type(value).__name__: [_plain(item, depth + 1) for item in value]}
    if type(value) is dict:
        return {"dict": [[_plain(key, depth + 1), _plain(item, depth + 1)] for key, item in value.items()]}
    return {"object": describe(value)}


def encode(value) -> str:
    """``value`` as JSON text of plain data (see the module docstring)."""
    return json.dumps(_plain(value))


def _read_array(spec, kind: str):
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise DataError(f"a malformed {kind}")
    dtype, shape = spec["dtype"], spec["shape"]
    if dtype not in DTYPES or not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise DataError(f"a {kind} of dtype {dtype!r} and shape {shape!r}")
    raw = base64.b64decode(spec["data"], validate=True)
    if len(raw) != int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize:
        raise DataError(f"a {kind} whose data does not fit its shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if kind == "tensor":
        import torch

        return torch.from_numpy(array)
    return array


class _Reader:
    """Strict reader of :func:`encode`'s output, counting items so a huge reply cannot exhaust memory."""

    def __init__(self):
        self.items = 0

    def read(self, value, depth: int = 0):
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise DataError(f"a value with more than {MAX_ITEMS} items or {MAX_DEPTH} levels")
        if value is None or type(value) in (bool, int, str):
            return value
        if type(value) is not dict or len(value) != 1:
            raise DataError("a malformed value")
        (kind, body), = value.items()
        if kind == "float" and type(body) is str:
            return float(body)
        if kind in ("tensor", "array"):
            return _read_array(body, kind)
        if kind in ("list", "tuple") and type(body) is list:
            items = [self.read(item, depth + 1) for item in body]
            return items if kind == "list" else tuple(items)
        if kind == "dict" and type(body) is list:
            pairs = [(self.read(pair[0], depth + 1), self.read(pair[1], depth + 1)) for pair in body
                     if type(pair) is list and len(pair) == 2]
            if len(pairs) != len(body):
                raise DataError("a malformed dict")
            try:
                return dict(pairs)
            except TypeError:
                raise DataError("a dict with a key that is not hashable") from None
        if kind == "object" and type(body) is str:
            raise DataError(body[:120])
        raise DataError("a malformed value")


def decode(text: str):
    """Plain data from :func:`encode`'s JSON text; raise :class:`DataError` naming anything else."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise DataError("text that is not JSON") from None
    try:
        return _Reader().read(value)
    except RecursionError:
        raise DataError(f"a value nested more than {MAX_DEPTH} levels deep") from None


def as_data(value):
    """:func:`decode` of :func:`encode`: the plain-data copy of ``value`` that a check compares."""
    return decode(encode(value))
