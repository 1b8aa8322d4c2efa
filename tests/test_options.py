"""wlra_core.options: one integer rule, integer choices, declared functions and dataclasses."""
import re
from dataclasses import dataclass

import numpy as np
import pytest

from wlra_core.options import Choices, InstanceOf, Interval, Option, check_names, declared, validate_fields

COUNT = Option(3, (Interval(int, 1),), "a count")


@pytest.mark.parametrize("value", [True, np.bool_(True), 2.0, np.float64(2.0), "2", None])
def test_integers_are_integers_only(value):
    with pytest.raises(ValueError, match=re.escape(f"demo: invalid count={value!r}; count must be an integer >= 1")):
        COUNT.validate(value, name="count", algorithm="demo")


def test_numpy_scalars_come_out_as_python_numbers():
    for value in (np.int8(2), np.uint64(2), np.int64(2)):
        assert type(COUNT.validate(value, name="count")) is int
    assert type(Option(0.5, (Interval(float, 0.0),), "x").validate(np.float32(0.5), name="x")) is float
    width = Option(32, (Choices((16, 32, 64)),), "bits")
    assert width.validate(np.int16(16), name="bits") == 16 and width.describe() == "one of 16, 32, 64"
    with pytest.raises(ValueError, match="invalid bits=16.0; bits must be one of 16, 32, 64"):
        width.validate(16.0, name="bits")  # no message prefix without an owner
    seed = Option(0, (Interval(int, 0), InstanceOf((np.random.SeedSequence,), "a SeedSequence")), "seed")
    sequence = np.random.SeedSequence(1)
    assert seed.validate(sequence, name="seed") is sequence


def test_declared_functions_take_defaults_from_and_validate_by_their_declarations():
    @declared(n=COUNT, scale=Option(1.0, (Interval(float, 0.0),), "a scale"))
    def make(n, scale):
        return n, scale

    assert make() == (3, 1.0) and make(np.int64(4), scale=2) == (4, 2.0)
    assert type(make(np.int64(4))[0]) is int
    with pytest.raises(ValueError, match="make: invalid n=0; n must be an integer >= 1"):
        make(0)
    with pytest.raises(TypeError, match=r"wrong: the parameters do not match its declaration \(declared but not "
                                        r"taken: scale; taken but not declared: size\)"):
        @declared(n=COUNT, scale=Option(1.0, (Interval(float, 0.0),), "a scale"))
        def wrong(n, size):
            return n


def test_declared_dataclass_fields_are_validated_and_normalised():
    @dataclass(frozen=True)
    class Settings:
        n: int = COUNT.default

        def __post_init__(self):
            validate_fields(self, {"n": COUNT}, owner="Settings")

    assert Settings(np.int32(5)) == Settings(5) and type(Settings(np.int32(5)).n) is int
    with pytest.raises(ValueError, match="Settings: invalid n=np.False_"):
        Settings(np.bool_(False))
    check_names("demo", "keywords", ["a", "b"], {"b", "a"})  # equal: no error
