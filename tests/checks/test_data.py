"""Plain data: what an answer may return, read back strictly, so no object of the learner's is compared."""

import json

import numpy as np
import pytest
import torch

from mmgp_lesson.checks.data import DataError, as_data, decode, encode


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 0.1, float("inf"), "text", [1, 2.5], (1, "a"), {"a": [1, {"b": None}], 3: 4.0},
    torch.arange(6, dtype=torch.float64).reshape(2, 3), torch.tensor([True, False]), np.eye(2, dtype=np.float32),
])
def test_plain_data_round_trips_exactly(value):
    back = as_data(value)
    assert type(back) is type(value)
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and torch.equal(back, value)
    elif isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and np.array_equal(back, value)
    else:
        assert back == value


def test_nan_survives_and_numpy_scalars_become_python_numbers():
    assert np.isnan(as_data(float("nan")))
    assert type(as_data(np.int64(4))) is int and type(as_data(np.float32(0.5))) is float


def test_a_tensor_with_a_gradient_crosses_as_its_values():
    value = torch.ones(3, requires_grad=True) * 2
    back = as_data(value)
    assert not back.requires_grad and torch.equal(back, torch.full((3,), 2.0))


class AlwaysEqual:
    def __eq__(self, other):
        return True


class Sneaky(int):
    def __eq__(self, other):
        return True


class SneakyTensor(torch.Tensor):
    pass


@pytest.mark.parametrize("value, named", [
    (AlwaysEqual(), "an AlwaysEqual object"), (Sneaky(3), "a Sneaky object"), ([1, AlwaysEqual()], "an AlwaysEqual object"),
    ({"stage": lambda: 0}, "a function object"), (np.array([object()]), "numpy array of dtype object"),
])
def test_objects_that_are_not_data_are_refused_by_name(value, named):
    with pytest.raises(DataError, match=named):
        as_data(value)


def test_a_tensor_subclass_crosses_as_a_plain_tensor():
    value = torch.ones(2).as_subclass(SneakyTensor)
    assert type(as_data(value)) is torch.Tensor


@pytest.mark.parametrize("text", [
    "not json", json.dumps({"tensor": {"dtype": "float64", "shape": [3], "data": "AAAA"}}),
    json.dumps({"tensor": {"dtype": "object", "shape": [1], "data": ""}}), json.dumps({"list": [1], "x": 2}),
    json.dumps({"dict": [[[1], 2]]}), json.dumps([1, 2]), "[" * 5000 + "]" * 5000,
])
def test_malformed_replies_are_refused(text):
    with pytest.raises(DataError):
        decode(text)


def test_encode_writes_json_only():
    assert json.loads(encode({"x": torch.zeros(2)}))["dict"][0][0] == "x"
