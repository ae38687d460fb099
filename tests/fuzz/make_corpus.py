#!/usr/bin/env python3
# Writes the seed inputs of the message-reader fuzz target into
# tests/fuzz/corpus/: valid streams and one stream per malformed-header
# class. Input layout: see the comment at the top of fuzz_msg.c.
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def config(max_payload_sel=63, views=4, keep=2, eagain=3,
           pairs=((40, 0), (7, 0), (200, 128), (33, 255)), newest=0):
    c = bytes([max_payload_sel, (views - 1) | (keep << 3), eagain])
    for size, mapped in pairs:
        c += bytes([size - 1, mapped])
    return c + bytes([newest])


def hdr(mid, length, mtype=1, flags=0, magic=b"ZCM1", version=1,
        reserved=0):
    return magic + struct.pack("<HHIIQQ", version, flags, mtype, length,
                               mid, reserved)


def msg(mid, length, **kw):
    return hdr(mid, length, **kw) + bytes((mid * 131 + i * 7) & 0xff
                                          for i in range(length))


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    good = msg(1, 0) + msg(2, 1) + msg(3, 100, flags=1)
    write("valid_small", config() + good)
    write("valid_spanning", config() + msg(4, 600) + msg(5, 30, flags=2)
          + msg(6, 0))
    write("valid_tiny_views_assembled",
          config(pairs=((1, 0), (3, 0), (2, 255), (5, 0)))
          + msg(7, 1000) + msg(8, 5))
    write("valid_enobufs_keep", config(views=1, keep=3, eagain=0)
          + msg(9, 300) + msg(10, 300) + msg(11, 10))
    write("bad_magic", config() + good + msg(12, 10, magic=b"ZCM2"))
    write("bad_version", config() + good + msg(13, 10, version=2))
    write("unknown_flags", config() + good + msg(14, 10, flags=0x8000))
    write("reserved_nonzero", config() + good + msg(15, 10, reserved=1 << 63))
    write("too_long", config() + good + hdr(16, 2000) + bytes(100))
    write("truncated_header", config() + good + hdr(17, 10)[:20])
    write("truncated_payload", config() + good + msg(18, 500)[:300])
    rnd = random.Random(1)
    write("garbage", config() + bytes(rnd.randrange(256) for _ in range(200)))
    write("out_of_step", config() + msg(19, 50)
          + hdr(20, 51) + bytes(50) + msg(21, 10))


if __name__ == "__main__":
    main()
