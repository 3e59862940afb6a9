"""Telling UTF-8 from Windows-1252 by the bytes, a chunk of a large file at a time."""

import pytest

from infraplan.connectors.upload.encodings import UndecodableText, text_encoding

CAFE = "Caf\u00e9 \u00a3"


def test_a_character_split_between_two_chunks_is_still_utf8():
    data = CAFE.encode("utf-8")
    assert text_encoding([data[:4], data[4:]]) == "UTF-8"  # "Caf" and half of "é"


def test_text_is_windows_1252_when_any_chunk_is_not_utf8():
    assert text_encoding([CAFE.encode("utf-8"), CAFE.encode("cp1252")]) == "CP1252"
    assert text_encoding([b"Name,Easting", b"\n"]) is None  # ASCII: either reads it


def test_bytes_neither_encoding_has_are_placed_in_the_whole_stream():
    with pytest.raises(UndecodableText) as undecodable:
        text_encoding([b"Name\n", b"\xe9\x81"])  # 0x81 has no Windows-1252 character
    assert undecodable.value.offset == 6
