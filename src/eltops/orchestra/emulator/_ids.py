"""Deterministic randomness and invertible UUIDs.

Every record is a pure function of (seed, index). Its UUID encodes (kind, index) through a seed-keyed Feistel
permutation, so an id filter maps straight back to the record's index without any lookup table, and ids of one
seed never decode under another (a 58-bit keyed checksum fills the rest of the UUID).
"""

from __future__ import annotations

_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1
_M58 = (1 << 58) - 1
_INDEX_BITS = 48


def mix64(x: int) -> int:
    """The splitmix64 finaliser: a well-spread 64-bit hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def hash_of(*parts: int) -> int:
    """A 64-bit hash of a few integers."""
    h = 0x6A09E667F3BCC909
    for part in parts:
        h = mix64(h ^ (part & _M64))
    return h


class Draws:
    """A tiny deterministic stream of random numbers for one record (a hashed seed, then a 64-bit LCG)."""

    __slots__ = ("_state",)

    def __init__(self, *parts: int) -> None:
        self._state = hash_of(*parts)

    def bits(self) -> int:
        """32 well-mixed bits."""
        state = (self._state * 6364136223846793005 + 1442695040888963407) & _M64
        self._state = state
        return ((state >> 29) ^ state) >> 32

    def unit(self) -> float:
        """A float in [0, 1)."""
        return self.bits() / 4294967296.0

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        return self.bits() * n >> 32

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + (self.bits() * (high - low + 1) >> 32)


class UuidCodec:
    """Turns (kind, index) into a UUID4 string and back, keyed by the seed."""

    __slots__ = ("_check_key", "_round_keys")

    def __init__(self, seed: int) -> None:
        self._round_keys = tuple(hash_of(seed, 0xF00D, r) & _M32 for r in range(4))
        self._check_key = hash_of(seed, 0xC0DE)

    def _round(self, half: int, key: int) -> int:
        return ((((half ^ key) * 0x9E3779B1) & _M32) ^ (half >> 15)) * 0x85EBCA6B & _M32

    def _permute(self, x: int) -> int:
        left, right = x >> 32, x & _M32
        for key in self._round_keys:
            left, right = right, left ^ self._round(right, key)
        return (left << 32) | right

    def _unpermute(self, x: int) -> int:
        left, right = x >> 32, x & _M32
        for key in reversed(self._round_keys):
            left, right = right ^ self._round(left, key), left
        return (left << 32) | right

    def encode(self, kind: int, index: int) -> str:
        x = self._permute((kind << _INDEX_BITS) | index)
        check = mix64(x ^ self._check_key) & _M58
        value = (
            ((x >> 32) << 96)
            | (((x >> 16) & 0xFFFF) << 80)
            | (4 << 76)
            | (((x >> 4) & 0xFFF) << 64)
            | (2 << 62)
            | ((x & 0xF) << 58)
            | check
        )
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def decode(self, text: str) -> tuple[int, int] | None:
        """(kind, index) for a UUID this codec made, else None (any other UUID or text)."""
        hexdigits = text.strip().replace("-", "").lower()
        if len(hexdigits) != 32:
            return None
        try:
            value = int(hexdigits, 16)
        except ValueError:
            return None
        if (value >> 76) & 0xF != 4 or (value >> 62) & 0x3 != 2:
            return None
        x = (
            ((value >> 96) << 32)
            | (((value >> 80) & 0xFFFF) << 16)
            | (((value >> 64) & 0xFFF) << 4)
            | ((value >> 58) & 0xF)
        )
        if mix64(x ^ self._check_key) & _M58 != value & _M58:
            return None
        plain = self._unpermute(x)
        return plain >> _INDEX_BITS, plain & ((1 << _INDEX_BITS) - 1)
