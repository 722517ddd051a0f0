"""H.264 bitstream bytes, no decoding: NAL units of MP4 (length-prefixed) and Annex B packets, `avcC` records.

Splicing re-encoded pictures into a copied H.264 stream needs only this much of the syntax: which NAL units
a packet holds, the ids of the parameter sets, and the `avcC` decoder record that lists them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

IDR, SEI, SPS, PPS, AUD = 5, 6, 7, 8, 9
VERSION = 1  # bump when a change here changes the bytes of a cache entry (see dubkit.cache)
_START = re.compile(b"\x00\x00\x00\x01|\x00\x00\x01")


@dataclass(frozen=True)
class DecoderRecord:
    """An `avcC` box payload: the stream's profile and level, NAL length size and parameter sets."""

    header: bytes  # version, profile, compatibility, level
    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    tail: bytes  # the High-profile extension (chroma format, bit depths), kept as it was

    @classmethod
    def parse(cls, data: bytes) -> DecoderRecord:
        if len(data) < 7 or data[0] != 1:
            raise ValueError("not an avcC record")
        length_size = (data[4] & 3) + 1
        sps, position = _parameter_sets(data, 6, data[5] & 0x1F)
        pps, position = _parameter_sets(data, position + 1, data[position])
        return cls(bytes(data[:4]), length_size, sps, pps, bytes(data[position:]))

    def with_sets(self, sps: Iterable[bytes], pps: Iterable[bytes]) -> DecoderRecord:
        return DecoderRecord(self.header, self.length_size, (*self.sps, *sps), (*self.pps, *pps), self.tail)

    def to_bytes(self) -> bytes:
        out = bytearray(self.header)
        out.append(0xFC | (self.length_size - 1))
        out.append(0xE0 | len(self.sps))
        out += b"".join(len(unit).to_bytes(2, "big") + unit for unit in self.sps)
        out.append(len(self.pps))
        out += b"".join(len(unit).to_bytes(2, "big") + unit for unit in self.pps)
        return bytes(out + self.tail)

    def free_id(self) -> int | None:
        """A parameter-set id neither the stream's SPS nor its PPS use (None when all are taken)."""
        used = {sps_id(unit) for unit in self.sps} | {pps_id(unit) for unit in self.pps}
        return next((i for i in range(32) if i not in used), None)


def _parameter_sets(data: bytes, position: int, count: int) -> tuple[tuple[bytes, ...], int]:
    """*count* 16-bit-length-prefixed units from *position*, and the position after them."""
    units = []
    for _ in range(count):
        size = int.from_bytes(data[position : position + 2], "big")
        units.append(bytes(data[position + 2 : position + 2 + size]))
        position += 2 + size
    return tuple(units), position


def length_prefixed(packet: bytes, length_size: int) -> Iterator[bytes]:
    """The NAL units of an MP4 sample (each preceded by its big-endian length)."""
    position = 0
    while position + length_size <= len(packet):
        size = int.from_bytes(packet[position : position + length_size], "big")
        position += length_size
        yield packet[position : position + size]
        position += size


def annex_b(packet: bytes) -> list[bytes]:
    """The NAL units of an Annex B packet (separated by 00 00 01 / 00 00 00 01 start codes)."""
    return [unit for unit in _START.split(packet) if unit]


def to_length_prefixed(units: Iterable[bytes], length_size: int) -> bytes:
    return b"".join(len(unit).to_bytes(length_size, "big") + unit for unit in units)


def nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F


def is_idr(packet: bytes, length_size: int) -> bool:
    return any(nal_type(unit) == IDR for unit in length_prefixed(packet, length_size) if unit)


def sps_id(unit: bytes) -> int:
    return _BitReader(_unescaped(unit[4:])).ue()  # after the NAL header, profile, constraints and level


def pps_id(unit: bytes) -> int:
    return _BitReader(_unescaped(unit[1:])).ue()


def _unescaped(payload: bytes) -> bytes:
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


class _BitReader:
    def __init__(self, data: bytes) -> None:
        self.data, self.position = data, 0

    def bit(self) -> int:
        byte = self.data[self.position // 8] if self.position // 8 < len(self.data) else 0
        self.position += 1
        return (byte >> (7 - (self.position - 1) % 8)) & 1

    def ue(self) -> int:
        """An unsigned Exp-Golomb code."""
        zeros = 0
        while self.bit() == 0 and zeros < 32:
            zeros += 1
        value = 0
        for _ in range(zeros):
            value = (value << 1) | self.bit()
        return (1 << zeros) - 1 + value
