"""Tests of the IDX parser."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from activelab.data.files import DataFileError
from activelab.data.idx import parse_idx

IdxEncoder = Callable[[np.ndarray, int], bytes]


def test_parse_idx_uint8_images(idx_bytes: IdxEncoder) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = parse_idx(idx_bytes(images, 0x08))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_parse_idx_labels_1d(idx_bytes: IdxEncoder) -> None:
    labels = np.array([7, 2, 1, 0], dtype=np.uint8)
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels, 0x08)), labels)


@pytest.mark.parametrize(
    ("type_code", "dtype"), [(0x0C, ">i4"), (0x0B, ">i2"), (0x0D, ">f4"), (0x0E, ">f8"), (0x09, "i1")]
)
def test_parse_idx_big_endian_types(idx_bytes: IdxEncoder, type_code: int, dtype: str) -> None:
    values = np.array([[-3, 0, 5], [100, -100, 7]], dtype=dtype)
    out = parse_idx(idx_bytes(values, type_code))
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, values.astype(out.dtype))


def test_parse_idx_bad_magic() -> None:
    with pytest.raises(DataFileError, match="not an IDX file"):
        parse_idx(b"\x01\x00\x08\x01" + (0).to_bytes(4, "big"), "bad.idx")


def test_parse_idx_unknown_type() -> None:
    with pytest.raises(DataFileError, match="unknown IDX element type 0x07"):
        parse_idx(bytes([0, 0, 7, 1]) + (0).to_bytes(4, "big"))


def test_parse_idx_truncated(idx_bytes: IdxEncoder) -> None:
    data = idx_bytes(np.zeros((4, 2), np.uint8), 0x08)[:-1]
    with pytest.raises(DataFileError, match=r"promises shape \(4, 2\).*holds 7 bytes"):
        parse_idx(data, "train.idx")


def test_parse_idx_short_header() -> None:
    with pytest.raises(DataFileError, match="cut short"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]))

