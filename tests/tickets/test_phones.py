"""Callback numbers spoken or written in a message, and phone number forms."""

from __future__ import annotations

import pytest

from tickets.phones import display_phone, extract_callback_number, normalize_phone, phone_variants
from tickets.text import agree, tokenize


@pytest.mark.parametrize(
    ("text", "number"),
    [
        (
            "Công ty em ở Yên Phong muốn hỏi về hoàn thuế giá trị gia tăng, số điện thoại "
            "không chín tám tám một hai ba bốn năm sáu",
            "+84988123456",
        ),
        ("so dien thoai khong chin tam tam mot hai ba bon nam sau", "+84988123456"),
        ("Số của em là 0912.345.678 ạ, em cảm ơn.", "+84912345678"),
        ("Xin gọi lại số +84 912 345 678.", "+84912345678"),
        ("Số em là không chín một hai, ba mươi tư, năm mươi sáu, bảy tám.", "+84912345678"),
        ("không chín tám tám, một trăm hai mươi ba, bốn năm sáu", "+84988123456"),
        ("số máy bàn không hai hai hai ba tám một hai ba bốn lăm", "+842223812345"),
        ("Em là bà Lan, số không chín một hai ba bốn năm sáu bảy tám.", "+84912345678"),
        ("My number is zero nine one two three four five six seven eight.", "+84912345678"),
        ("gọi cho em theo số 0 9 8 8 1 2 3 4 5 6 nhé", "+84988123456"),
    ],
)
def test_spoken_number_is_found_and_normalised(text: str, number: str) -> None:
    assert extract_callback_number(text) == number


def test_everyday_variants_of_digit_words() -> None:
    # "linh" = 0, "mười lăm" = 15, "mốt" = 1, "bẩy" = 7: 0 9 8 0 15 2 1 7 7.
    assert extract_callback_number("không chín tám linh mười lăm hai mốt bẩy bẩy") == (
        "+84980152177"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Năm 2024 công ty có một trăm lao động và hai dự án.",
        "Tôi có một câu hỏi về thuế.",
        "Mã số thuế của công ty là 2300123456.",  # ten digits, but not a phone number
        "",
    ],
)
def test_no_number_where_there_is_none(text: str) -> None:
    assert extract_callback_number(text) is None


def test_tone_marks_keep_number_words_apart_from_other_words() -> None:
    # "bà" (Mrs) is not "ba" (three), "từ" (from) is not "tư" (four).
    assert extract_callback_number("bà từ bà từ không chín một hai") is None


def test_plus84_and_zero_forms_are_one_number() -> None:
    assert normalize_phone("0912 345 678") == normalize_phone("+84912345678") == "+84912345678"
    assert normalize_phone("84912345678") == "+84912345678"
    assert phone_variants("0912345678") == {"+84912345678", "84912345678", "0912345678"}
    assert display_phone("+84912345678") == "0912 345 678"
    assert normalize_phone("anonymous") is None
    assert normalize_phone("") is None


def test_syllables_compare_tones_not_their_placement() -> None:
    hoa_new, hoa_old, thue_tax, thue_rent, plain = tokenize("hóa hoá thuế thuê thue")
    assert agree(hoa_new, hoa_old)
    assert not agree(thue_tax, thue_rent)
    assert agree(plain, thue_tax) and agree(plain, thue_rent)
