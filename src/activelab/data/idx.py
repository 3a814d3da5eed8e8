"""Parser of the IDX format, in which the MNIST and Fashion-MNIST files are stored."""

from __future__ import annotations

from typing import Any

import numpy as np

from activelab.data.files import DataFileError

__all__ = ["parse_idx"]

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode one IDX file (the format of the MNIST files) into an array.

    The format is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the
    number of dimensions), then ``NN`` big-endian uint32 sizes, then the elements in C order.

    Args:
        data: The whole (uncompressed) file content.
        source: Name of the file, used in error messages.

    Returns:
        A read-only array of the stored shape; uint8 data stays uint8, other types are converted
        to the machine's native byte order.

    Raises:
        DataFileError: If the header is malformed or the size does not match the header.

    Example:
        >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
        >>> parse_idx(header + bytes(range(6)))
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(
            f"{source} is not an IDX file: it must start with two zero bytes, "
            f"got {data[:4].hex() or 'an empty file'}. The file may be corrupt; fetch it again."
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise DataFileError(f"{source}: unknown IDX element type 0x{type_code:02X} (known: {known}).")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataFileError(f"{source}: IDX header for {ndim} dimensions is cut short ({len(data)} bytes).")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DataFileError(
            f"{source}: IDX header promises shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(data) - offset} bytes. The file may be truncated; fetch it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
    return array
