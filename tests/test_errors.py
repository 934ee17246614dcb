import pytest

from hicd.errors import ConfigError, DataError, check_choice


def test_check_choice_returns_the_value_or_names_the_option_and_the_choices():
    assert check_choice("b", ("a", "b"), "--opt") == "b"
    assert check_choice("k", {"k": 1}, "--opt") == "k"  # a mapping's keys are its choices
    with pytest.raises(ConfigError, match=r"^--opt: 'c' is not one of a, b$"):
        check_choice("c", ("a", "b"), "--opt")
    with pytest.raises(DataError, match=r"^split: 3 is not one of 1, 2$"):
        check_choice(3, (1, 2), "split", DataError)
