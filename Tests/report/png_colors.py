#!/usr/bin/env python3
"""Counts the pixels of a PNG close to given colours (to check that a rendered report shows its charts).

Usage: png_colors.py FILE.png RRGGBB [RRGGBB ...]; prints a JSON object {colour: count}. Pure Python (zlib).
"""
import json
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), "8-bit RGB or RGBA only"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    row_start = 0
    for _ in range(height):
        kind, line = raw[row_start], bytearray(raw[row_start + 1:row_start + 1 + stride])
        row_start += 1 + stride
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, upleft = previous[i], (previous[i - channels] if i >= channels else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else upleft)) & 255
        previous = line
        for i in range(0, stride, channels):
            yield line[i], line[i + 1], line[i + 2]


def main():
    wanted = {c: tuple(int(c[i:i + 2], 16) for i in (0, 2, 4)) for c in sys.argv[2:]}
    counts = {c: 0 for c in wanted}
    for r, g, b in pixels(sys.argv[1]):
        for name, (wr, wg, wb) in wanted.items():
            if abs(r - wr) + abs(g - wg) + abs(b - wb) < 30:
                counts[name] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
