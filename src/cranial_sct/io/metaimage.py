"""A MetaImage (.mha/.mhd) header checked before SimpleITK parses it.

ITK's MetaIO parser trusts its header: ``NDims = -1`` hangs it or crashes the whole process with a
segmentation fault (found by the fuzz tests, SimpleITK 2.x), a size larger than the file is
allocated before the short read is noticed, and its complaints go straight to the C++ error stream.
The fields that size and place the image are therefore checked here first, and a bad one is refused
in one line naming it. Other fields are left to ITK.
"""

from __future__ import annotations

import math
from pathlib import Path

from cranial_sct.errors import InputError

HEADER_LIMIT_BYTES = 1 << 16  # a MetaImage header is a few hundred bytes; the pixels follow it
SCALAR_BYTES = {
    "MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4, "MET_LONG": 4,
    "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4, "MET_DOUBLE": 8,
}  # fmt: skip
VECTORS = ("ElementSpacing", "ElementSize", "Offset", "Position", "Origin")  # NDims numbers each
MATRICES = ("TransformMatrix", "Rotation", "Orientation")  # NDims x NDims numbers each


def check_metaimage_header(path: Path) -> None:
    """Refuse a header whose dimensions, sizes, spacing, placement or pixel type ITK cannot be trusted with."""
    fields, header_bytes = _header_fields(path)
    ndims = _integers(fields, "NDims", 1, path)[0]
    if not 2 <= ndims <= 4:
        raise InputError(f"{path}: MetaImage NDims = {ndims}; a 3D (or 4D) image is needed")
    sizes = _integers(fields, "DimSize", ndims, path)
    if min(sizes) < 1:
        raise InputError(f"{path}: MetaImage DimSize = {fields['DimSize']}; every size must be at least 1")
    if fields.get("ElementType") not in SCALAR_BYTES:
        raise InputError(f"{path}: MetaImage ElementType = {fields.get('ElementType', 'missing')}; expected one of {', '.join(SCALAR_BYTES)}")
    for key, count in [*((k, ndims) for k in VECTORS), *((k, ndims * ndims) for k in MATRICES)]:
        if key in fields:
            _numbers(fields, key, count, path)
    channels = _integers(fields, "ElementNumberOfChannels", 1, path)[0] if "ElementNumberOfChannels" in fields else 1
    if channels < 1:
        raise InputError(f"{path}: MetaImage ElementNumberOfChannels = {channels}; must be at least 1")
    if fields["ElementDataFile"] == "LOCAL" and fields.get("CompressedData", "False").lower() != "true":
        needed = math.prod(sizes) * channels * SCALAR_BYTES[fields["ElementType"]]
        stored = path.stat().st_size - header_bytes
        if stored < needed:  # checked here: ITK would allocate the header's size before finding out
            raise InputError(f"{path}: the header describes {needed:,} bytes of pixels but the file holds {stored:,}; it is truncated or damaged")


def _header_fields(path: Path) -> tuple[dict[str, str], int]:
    """``Key = value`` lines up to ElementDataFile (the last header field; pixels may follow it), and
    the header's length in bytes."""
    with open(path, "rb") as handle:
        head = handle.read(HEADER_LIMIT_BYTES)
    fields: dict[str, str] = {}
    length = 0
    for raw in head.split(b"\n"):
        length += len(raw) + 1
        key, sep, value = raw.decode("latin-1").partition("=")
        if sep:
            fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            return fields, length
    raise InputError(f"{path}: no MetaImage header (no ElementDataFile field in its first {HEADER_LIMIT_BYTES:,} bytes)")


def _numbers(fields: dict[str, str], key: str, count: int, path: Path) -> list[float]:
    try:
        numbers = [float(word) for word in fields[key].split()]
    except (KeyError, ValueError):
        numbers = []
    if len(numbers) != count or not all(math.isfinite(n) for n in numbers):
        raise InputError(f"{path}: MetaImage {key} = {fields.get(key, 'missing')!r}; expected {count} finite numbers")
    return numbers


def _integers(fields: dict[str, str], key: str, count: int, path: Path) -> list[int]:
    numbers = _numbers(fields, key, count, path)
    if any(n != int(n) for n in numbers):
        raise InputError(f"{path}: MetaImage {key} = {fields[key]!r}; expected {count} whole numbers")
    return [int(n) for n in numbers]
