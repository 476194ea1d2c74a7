"""HPACK Huffman: whole-value re-encoding of secrets, and a causal fallback.

What a redacted Huffman value must keep
---------------------------------------
(1) Its byte length, so stream offsets stay valid; (2) its decoded length,
because HPACK dynamic table entry sizes count decoded lengths and a
different size would desynchronise every later table lookup; (3) validity,
including padding (at most 7 one-bits).

Whole values (:func:`rewrite_whole`, the usual case)
----------------------------------------------------
When all of a value's bytes are in the payload at hand, it is decoded, its
secret characters are replaced by :func:`filler` characters, and it is
re-encoded.  The filler's total code length is picked so that kept and
filler characters fill the original byte length; it depends on the byte
length, the kept characters and the number of secret characters only, so
the output carries nothing of the secret that the output's length and the
table sizes did not already show.  The construction is exact: every total
from 5 to 15 bits per character is reachable except a lone 9-bit one
(:func:`filler` proves it; the tests check it against a brute-force search),
and a window of 8 possible totals always holds a reachable one unless the
secret characters average over 15 bits (non-ASCII bytes), where the causal
rewrite below takes over (``Redactor.fallback_values``).

Values cut by a payload end (:func:`mirror_byte`, rare)
-------------------------------------------------------
Bytes already returned to the capture can never be changed, so for a value
whose first bytes must be returned before its last have arrived, output
byte *i* may only depend on input bytes up to *i*.  Such a value is
rewritten causally, bit by bit (``Redactor.split_values`` counts them).

The rewrite walks the original bits down the code tree (node ``v``) and, in
lock step, emits bits walking a second path (node ``w``).  It only ever
steps to a child of ``w`` whose subtree can *simulate* the original's
subtree: whatever bits the original continues with, the output can keep
pace and reach a leaf (a complete character) at exactly the same bit.  Every
secret character is thus replaced by a filler character with the same code
length, so byte length, decoded length and the position of the final padding
are all preserved.  Among the allowed children the one with the largest
subtree is chosen (see ``_score_all``), so that as few distinct fillers as
possible appear.  Padding needs no special case: the all-ones path is the only
one reaching depth 30 (EOS), so from a character boundary the simulation
rule forces the output to copy one-bits for the first 28 levels, and padding
is at most 7 of them.

What this filler still tells: each secret character's code-length class,
measured at 2.2 bits of a base64 character's 6 and 1.5 of a hex digit's 4
(the floor for any per-character, length-preserving scheme is 1.7 and
0.95).  The choice of branch (``_score_all``) is what keeps it near that
floor; only a whole-value rewrite avoids the leak.

Examples
--------
>>> from hpack.huffman import HuffmanEncoder
>>> from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
>>> from hpack.huffman_table import decode_huffman
>>> enc = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(b"sk-Secret42")
>>> red, v, w = bytearray(), ROOT, ROOT
>>> for i, byte in enumerate(enc):
...     o, v, w, _ = mirror_byte(v, w, byte)
...     red.append(o)
>>> len(red) == len(enc), decode_huffman(bytes(red))
(True, b'sx-xssrss3s')
"""

from __future__ import annotations

from functools import cache, lru_cache

from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

ROOT = 0
EOS = 256

# The code tree as flat lists: node ids, kids[2*node + bit], sym[node] (-1: internal).
_kids: list[int] = [-1, -1]
_sym: list[int] = [-1]


def _build() -> None:
    for symbol, (code, length) in enumerate(zip(REQUEST_CODES, REQUEST_CODES_LENGTH, strict=True)):
        node = ROOT
        for k in range(length - 1, -1, -1):
            bit = (code >> k) & 1
            nxt = _kids[2 * node + bit]
            if nxt < 0:
                nxt = len(_sym)
                _kids[2 * node + bit] = nxt
                _kids.extend((-1, -1))
                _sym.append(-1)
            node = nxt
        _sym[node] = symbol


_build()


def code_path(symbol: int) -> frozenset[int]:
    """Nodes visited (excluding the root) while reading ``symbol``'s code.

    Examples
    --------
    >>> len(code_path(ord("*")))  # '*' has an 8-bit code
    8
    """
    code, length = REQUEST_CODES[symbol], REQUEST_CODES_LENGTH[symbol]
    node, path = ROOT, []
    for k in range(length - 1, -1, -1):
        node = _kids[2 * node + ((code >> k) & 1)]
        path.append(node)
    return frozenset(path)


# Choosing the output branch.  First preference: the child with the most
# leaves below it.  A larger subtree absorbs more of the original's
# possibilities into the same output, so fewer distinct fillers appear per
# code length and the filler tells less about the secret (measured over all
# 256 characters: one filler for 5- and 8-bit codes, two or three for 6- and
# 7-bit ones).  A leaf that is not visible ASCII counts as tiny, because h2
# rejects NUL, CR, LF and surrounding blanks in values.  Ties go to the
# subtree holding the more recognisable filler character.
_FILLER = b"X*x-0s:3r"


def _score_all() -> list[tuple[int, int]]:
    score = [(0, 0)] * len(_sym)

    def visit(node: int) -> tuple[int, int]:
        sym = _sym[node]
        if sym >= 0:
            visible = 0x21 <= sym < 0x7F
            s = (-1 if visible else 1000, _FILLER.find(sym) % 100 if visible else 100)
        else:
            a, b = visit(_kids[2 * node]), visit(_kids[2 * node + 1])
            s = (a[0] + b[0] if a[0] < 0 and b[0] < 0 else min(a[0], b[0]), min(a[1], b[1]))
        score[node] = s
        return s

    visit(ROOT)
    return score


_SCORE = _score_all()


@cache
def _sim(v: int, w: int) -> bool:
    """Can the subtree at ``w`` keep pace with any bits read below ``v``?"""
    if _sym[v] >= 0 or _sym[w] >= 0:
        return _sym[v] >= 0 and _sym[w] >= 0
    return all(
        _sim(_kids[2 * v + b], _kids[2 * w]) or _sim(_kids[2 * v + b], _kids[2 * w + 1])
        for b in (0, 1)
    )


def mirror_bit(v: int, w: int, bit: int, copy: bool) -> tuple[int, int, int]:
    """One bit of the rewrite: returns ``(v', w', output bit)``.

    ``copy`` asks to emit the original bit; honoured only while the two walks
    are still at the same node (so the output stays valid).  A completed
    character resets both walks to the root; the caller checks ``is_leaf``.

    Examples
    --------
    >>> mirror_bit(ROOT, ROOT, 1, True)[2]
    1
    """
    v2 = _kids[2 * v + bit]
    if copy and w == v:
        return v2, v2, bit
    best, best_c = -1, 0
    for c in (0, 1):
        w2 = _kids[2 * w + c]
        if _sim(v2, w2) and (best < 0 or _SCORE[w2] < _SCORE[best]):
            best, best_c = w2, c
    return v2, best, best_c


def is_leaf(node: int) -> bool:
    """True if ``node`` completes a character.

    Examples
    --------
    >>> is_leaf(ROOT), is_leaf(child(child(child(child(child(ROOT, 0), 0), 0), 0), 0))
    (False, True)
    """
    return _sym[node] >= 0


def symbol(node: int) -> int:
    """The character a leaf stands for (256 is EOS).

    Examples
    --------
    >>> chr(symbol(child(child(child(child(child(ROOT, 0), 0), 0), 0), 0)))  # code 00000
    '0'
    """
    return _sym[node]


def child(node: int, bit: int) -> int:
    """The next node reading ``bit``.

    Examples
    --------
    >>> child(ROOT, 1) != child(ROOT, 0)
    True
    """
    return _kids[2 * node + bit]


@lru_cache(maxsize=65536)
def mirror_byte(v: int, w: int, byte: int) -> tuple[int, int, int, int]:
    """Rewrite one whole byte of a secret: ``(out byte, v', w', chars done)``.

    Cached: the states reachable are few, so after warm-up each secret byte
    is one dictionary lookup.
    """
    out = done = 0
    for k in range(7, -1, -1):
        bit = (byte >> k) & 1
        v, w, ob = mirror_bit(v, w, bit, False)
        out = (out << 1) | ob
        if _sym[v] >= 0:
            done += 1
            v = w = ROOT
    return out, v, w, done


@lru_cache(maxsize=65536)
def decode_byte(v: int, byte: int) -> tuple[int, bytes]:
    """Plain streaming decode of one byte: ``(v', characters completed)``.

    Examples
    --------
    >>> decode_byte(ROOT, 0b00000_000)[1]  # '0' is 00000, then 3 bits pending
    b'0'

    """
    chars = bytearray()
    for k in range(7, -1, -1):
        v = _kids[2 * v + ((byte >> k) & 1)]
        if v < 0:  # cannot happen in a complete tree; keep going safely
            v = ROOT
        elif _sym[v] >= 0:
            if _sym[v] < 256:
                chars.append(_sym[v])
            v = ROOT
    return v, bytes(chars)


# -- whole-value rewrite ------------------------------------------------------
#
# When a value's bytes are all at hand, the filler is chosen for the value as
# a whole: the secret characters are replaced by a string that depends only on
# what the output shows anyway (encoded byte length, number of secret
# characters, the kept characters), never on the secret.

#: One filler character per code length (visible ASCII, none of ``&``, ``#``
#: or blanks, so a rewritten ``:path`` query still parses the same way and h2
#: accepts the value).
FILLER_BY_LENGTH: dict[int, int] = {
    5: ord("0"),
    6: ord("-"),
    7: ord("x"),
    8: ord("*"),
    10: ord("?"),
    11: ord("+"),
    12: ord(">"),
    13: ord("~"),
    14: ord("^"),
    15: ord("`"),
}
for _n, _c in FILLER_BY_LENGTH.items():
    assert REQUEST_CODES_LENGTH[_c] == _n, (chr(_c), _n)
_MIN_BITS, _STAR_BITS, _MAX_BITS = 5, 8, 15
#: The one visible ASCII character with a longer code: ``\\`` (19 bits).  A
#: secret made mostly of backslashes averages more than 15 bits a character,
#: and only backslashes can fill that many bits.
_BACKSLASH_BITS = 19
assert REQUEST_CODES_LENGTH[ord("\\")] == _BACKSLASH_BITS


def encode(text: bytes, size: int) -> bytes:
    """Huffman-code ``text`` into exactly ``size`` bytes, padded with one-bits.

    The codes must total between ``8 size - 7`` and ``8 size`` bits.

    Examples
    --------
    >>> encode(b"sk-1", 3).hex()
    '475583'
    """
    acc = bits = 0
    codes, lengths = REQUEST_CODES, REQUEST_CODES_LENGTH
    for c in text:
        n = lengths[c]
        acc = (acc << n) | codes[c]
        bits += n
    pad = 8 * size - bits
    assert 0 <= pad < 8, (bits, size)
    return ((acc << pad) | ((1 << pad) - 1)).to_bytes(size, "big")


def _encode_runs(head: bytes, tail: bytes, size: int) -> bytes:
    """:func:`encode` of ``head + tail`` where ``tail`` is a few runs of one character."""
    acc = bits = 0
    codes, lengths = REQUEST_CODES, REQUEST_CODES_LENGTH
    for c in head:
        n = lengths[c]
        acc = (acc << n) | codes[c]
        bits += n
    i = 0
    while i < len(tail):
        c = tail[i]
        j = i + 1
        while j < len(tail) and tail[j] == c:
            j += 1
        n, m = lengths[c], j - i
        # m copies of an n-bit code: code * (1 + 2^n + 2^2n + ...), no loop.
        acc = (acc << (n * m)) | codes[c] * (((1 << (n * m)) - 1) // ((1 << n) - 1))
        bits += n * m
        i = j
    pad = 8 * size - bits
    assert 0 <= pad < 8, (bits, size)
    return ((acc << pad) | ((1 << pad) - 1)).to_bytes(size, "big")


def _pad_nodes() -> frozenset[int]:
    node, nodes = ROOT, [ROOT]
    for _ in range(7):
        node = _kids[2 * node + 1]
        nodes.append(node)
    return frozenset(nodes)


_PAD_OK = _pad_nodes()  # where a valid string may end: at most 7 one-bits of padding


def _decode_step(v: int, byte: int) -> tuple[int, bytes, bool]:
    """``(v', characters completed, EOS or a dead end seen)`` for one byte."""
    chars = bytearray()
    bad = False
    for k in range(7, -1, -1):
        v = _kids[2 * v + ((byte >> k) & 1)]
        if v < 0:
            bad, v = True, ROOT
        elif _sym[v] >= 0:
            if _sym[v] < 256:
                chars.append(_sym[v])
            else:
                bad = True  # EOS inside a string is a decoding error (RFC 7541 5.2)
            v = ROOT
    return v, bytes(chars), bad


def decode(coded: bytes) -> bytes | None:
    """Decode a whole Huffman string; ``None`` if it is not valid RFC 7541.

    Examples
    --------
    >>> decode(encode(b"sk-1", 3)), decode(b"\\x47\\x55\\x82")  # padding bit 0
    (b'sk-1', None)
    """
    v, out, steps = ROOT, [], _STEPS
    for byte in coded:
        key = v << 8 | byte
        hit = steps.get(key)
        if hit is None:
            hit = steps[key] = _decode_step(v, byte)
        v, chars, bad = hit
        if bad:
            return None
        out.append(chars)
    return b"".join(out) if v in _PAD_OK else None


# (node << 8 | byte) -> _decode_step result; at most 256 internal nodes x 256 bytes.
_STEPS: dict[int, tuple[int, bytes, bool]] = {}


def filler(n: int, bits: int) -> bytes | None:
    """``n`` filler characters whose Huffman codes total exactly ``bits``.

    :func:`_filler` (5 to 15 bits a character), with as few ``\\`` (19
    bits) as it takes first when the average is above 15 bits.  ``None``
    when no string fits (above 19 bits on average: non-ASCII or control
    bytes; or a total only 9-bit or 16 to 18-bit codes could make).

    Examples
    --------
    >>> [len(f) for f in (filler(1, 19), filler(2, 34), filler(3, 50))]
    [1, 2, 3]
    >>> filler(2, 34).count(b"\\\\"), filler(3, 50).count(b"\\\\"), filler(1, 17), filler(3, 58)
    (1, 2, None, None)
    """
    over = bits - _MAX_BITS * n
    if over <= 0:
        return _filler(n, bits)
    m = -(-over // (_BACKSLASH_BITS - _MAX_BITS))  # ceil: backslashes needed
    if m > n:
        return None
    if m == n:
        return b"\\" * n if bits == _BACKSLASH_BITS * n else None
    rest = _filler(n - m, bits - _BACKSLASH_BITS * m)
    return None if rest is None else rest + b"\\" * m


def _filler(n: int, bits: int) -> bytes | None:
    """``n`` filler characters whose Huffman codes total exactly ``bits``.

    As many ``*`` (8 bits) as possible, then the few characters that make up
    the difference: ``x`` (7) / ``-`` (6) / ``0`` (5) below an average of 8
    bits, ``?`` (10) to `````` (15) above it.  ``None`` when no string of
    ``n`` such characters totals ``bits`` (below 5 or above 15 bits on
    average, or one character of 9 bits).  Every total from ``5 n`` to
    ``15 n`` is reachable otherwise:

    * short of ``8 n`` by ``s``: ``k = ceil(s / 3)`` characters are lowered,
      ``k - 1`` of them to 5 bits and one by the remaining 1 to 3 bits
      (``k <= n`` because ``s <= 3 n``);
    * over ``8 n`` by ``d``: ``k = ceil(d / 7)`` characters are raised,
      ``k - 1`` of them to 15 bits and one by the remaining ``r`` (1 to 7) bits;
      ``r = 1`` has no 9-bit code, so a 15 becomes 14 and one more character
      takes 10 (``7 (k - 2) + 6 + 2 = d``), or for ``k = 1`` one character
      takes 10 and another 7 (``+2 - 1``).

    Examples
    --------
    >>> filler(6, 48), filler(6, 40), filler(6, 29), filler(3, 25), filler(2, 29), filler(1, 9)
    (b'******', b'***-00', None, b'*?x', b'`^', None)
    """
    if n <= 0:
        return b"" if n == 0 and bits == 0 else None
    if not _MIN_BITS * n <= bits <= _MAX_BITS * n:
        return None
    fill = FILLER_BY_LENGTH
    d = bits - _STAR_BITS * n
    if d <= 0:
        k = (-d + 2) // 3  # ceil(-d / 3) characters lowered
        if k == 0:
            return b"*" * n
        last = _STAR_BITS - (-d - 3 * (k - 1))
        return b"*" * (n - k) + bytes([fill[last]]) + bytes([fill[_MIN_BITS]]) * (k - 1)
    k = (d + 6) // 7  # ceil(d / 7) characters raised
    r = d - 7 * (k - 1)
    if r >= 2:
        raised = [_MAX_BITS] * (k - 1) + [_STAR_BITS + r]
    elif k >= 2:
        raised = [_MAX_BITS] * (k - 2) + [14, 10]
    elif n >= 2:
        raised = [10, 7]
    else:
        return None
    return b"*" * (n - len(raised)) + bytes(fill[b] for b in raised)


def code_bits(text: bytes) -> int:
    """Total Huffman code length of ``text`` in bits.

    Examples
    --------
    >>> code_bits(b"sk-1"), code_bits(b"")
    (23, 0)
    """
    lengths = REQUEST_CODES_LENGTH
    return sum(lengths[c] for c in text)


def rewrite_whole(coded: bytes, mask: list[bool] | int, text: bytes) -> tuple[bytes, int] | None:
    """Re-encode a whole Huffman value with its secret characters replaced.

    ``text`` is ``coded`` decoded; ``mask[i]`` says whether ``text[i]`` is
    secret (an int ``k`` stands for "from ``text[k]`` to the end").  The secret characters are replaced in order by
    :func:`filler` characters; the kept ones are re-encoded as they were.
    The filler's total is chosen so the whole value still fills exactly
    ``len(coded)`` bytes with at most 7 bits of all-ones padding, as close
    to all-``*`` as that allows: it is a function of the byte length, the
    kept characters and the number of secret ones, so it tells nothing
    about the secret (not even its exact bit count).

    Returns ``(new coded bytes, index of the first byte that carries secret
    bits)``, or ``None`` when no filler fits (secret characters averaging
    more than 15 bits, e.g. mostly non-ASCII bytes).

    Examples
    --------
    >>> a, b = encode(b"Bearer sk-abc123", 12), encode(b"Bearer sk-ABC123", 12)
    >>> len(a) == len(b), code_bits(b"sk-abc123"), code_bits(b"sk-ABC123")
    (True, 50, 54)
    >>> m = [i >= 7 for i in range(16)]
    >>> ra, first = rewrite_whole(a, m, b"Bearer sk-abc123")
    >>> rb, _ = rewrite_whole(b, m, b"Bearer sk-ABC123")
    >>> ra == rb, len(ra) == len(a), decode(ra), first
    (True, True, b'Bearer ***x00000', 5)
    """
    size = len(coded)
    lengths = REQUEST_CODES_LENGTH
    if isinstance(mask, int):
        n = len(text) - mask
        kept = sum([lengths[c] for c in text[:mask]])
    else:
        n = sum(mask)
        kept = sum([lengths[c] for c, m in zip(text, mask, strict=True) if not m])
    if n <= 0:
        return coded, size
    # Totals that keep the byte length: 8 size - 7 .. 8 size bits; the one
    # nearest all-"*" first.
    lo, hi = 8 * size - 7, 8 * size
    best = filler(n, min(max(kept + 8 * n, lo), hi) - kept)
    if best is None:
        for total in sorted(range(lo, hi + 1), key=lambda t: (abs(t - kept - 8 * n), -t)):
            best = filler(n, total - kept)
            if best is not None:
                break
        else:
            return None
    first = mask if isinstance(mask, int) else mask.index(True)
    if first + n == len(text):  # the usual shape: the secret runs to the end
        new = _encode_runs(text[:first], best, size)
    else:
        assert not isinstance(mask, int)  # an index always means "to the end"
        out = bytearray(text)
        j = 0
        for i in range(first, len(text)):
            if mask[i]:
                out[i] = best[j]
                j += 1
        new = encode(bytes(out), size)
    return new, code_bits(text[:first]) // 8
