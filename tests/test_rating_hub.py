"""The checks on what a Hub answer says (rating/hub.py): emissions figures, their text fields, the repo's files."""

from __future__ import annotations

import math

from scer_hf.rating import hub


def test_card_emissions_keep_their_text_fields_and_write_numbers_as_text() -> None:
    co2 = {"emissions": 12.5, "source": " CodeCarbon ", "geographical_location": 42, "hardware_used": True,
           "training_type": "", "unrelated": "x"}
    assert hub._parse(co2) == {"co2e_g": 12.5, "source": "CodeCarbon", "geographical_location": "42"}
    assert hub._parse(7) == {"co2e_g": 7.0}
    assert hub._parse({"source": "x"}) is None


def test_implausible_emissions_are_refused_with_the_figure() -> None:
    (why,) = hub._parse(-3)["refused"]  # type: ignore[index]
    assert why.startswith("co2_eq_emissions (-3 g) is outside the plausible range")
    (why,) = hub._parse({"emissions": "lots"})["refused"]  # type: ignore[index]
    assert "a str, not a number of grams" in why
    assert "refused" in (hub._parse(math.nan) or {})


def test_the_files_and_safetensors_total_of_an_answer() -> None:
    m = hub._checked({"siblings": [{"rfilename": "a.gguf"}, {"rfilename": ""}, "junk", {"x": 1}],
                      "safetensors": {"total": 1000}})
    assert hub.file_names(m) == ["a.gguf"] and hub.safetensors_total(m) == 1000
    assert hub.safetensors_total(hub._checked({})) is None and hub.file_names(object()) == []
