"""Cutting output into lines: unfinished lines wait, every line ending counts, long lines are cut."""

from __future__ import annotations

import pytest

from hounsfield.worker.log_lines import LineSplitter, format_line, parse_line


def test_an_unfinished_line_waits_for_its_end() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"loss: ") == []
    assert splitter.feed(b"0.5") == []
    assert splitter.feed(b"\nnext") == ["loss: 0.5"]
    assert splitter.flush() == ["next"]
    assert splitter.flush() == []


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\r\nb\r\n"], ["a", "b"]),
        ([b"a\r", b"\nb\n"], ["a", "b"]),  # CRLF cut between two reads is one line end
        ([b"\r 10%\r 20%\r 30%\n"], [" 10%", " 20%", " 30%"]),  # a redrawn progress bar
        ([b"\n\nx\n"], ["", "", "x"]),  # empty print()s stay
        ([b"a\r\r\rb\n"], ["a", "b"]),  # redraws make no empty lines
    ],
)
def test_line_endings(chunks: list[bytes], lines: list[str]) -> None:
    splitter = LineSplitter()
    got = [line for chunk in chunks for line in splitter.feed(chunk)]
    assert got + splitter.flush() == lines


def test_long_lines_are_cut_on_character_boundaries() -> None:
    splitter = LineSplitter(max_line_bytes=10)
    text = "ab" + "é" * 10  # 2 + 20 bytes; é is 2 bytes, a cut at an odd byte would split one
    lines = splitter.feed(text.encode() + b"\n")
    assert "".join(lines) == text
    assert all(len(line.encode()) <= 10 for line in lines) and "\ufffd" not in "".join(lines)
    # Without a line end the buffer does not grow beyond the limit either.
    assert splitter.feed(b"z" * 25) == ["z" * 10, "z" * 10]
    assert splitter.flush() == ["z" * 5]


def test_invalid_utf8_becomes_replacement_characters() -> None:
    assert LineSplitter().feed(b"bad \xff byte\n") == ["bad \ufffd byte"]


def test_format_and_parse_round_trip() -> None:
    assert format_line(3, "hello") == "[rank 3] hello"
    assert format_line("launcher", "x") == "[launcher] x"
    assert parse_line("[rank 12] a [rank 1] b") == (12, "a [rank 1] b")
    assert parse_line("[launcher] torchrun says") == ("launcher", "torchrun says")
    assert parse_line("[hounsfield] … 3 lines dropped") == ("hounsfield", "… 3 lines dropped")
    assert parse_line("no prefix") == ("launcher", "no prefix")
