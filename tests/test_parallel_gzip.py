"""gzip written on every core: concatenated members that every gzip reader reads as the whole input."""

import gzip
import io
import os
import subprocess
import zlib


from jobs.parallel_gzip import gzip_file, gzip_members

DATA = b"".join(b"%d,\"row, %d\"\n" % (i, i * 7919) for i in range(200_000))


def test_members_in_order_are_one_gzip_file_for_pythons_reader():
    chunks = [DATA[i:i + 65_536] for i in range(0, len(DATA), 65_536)]
    packed = b"".join(gzip_members(chunks, threads=3, member_bytes=100_000))
    assert packed.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= len(DATA) // 131_072  # a member per two chunks
    assert gzip.decompress(packed) == DATA


def test_the_gzip_program_reads_every_member():
    packed = b"".join(gzip_members([DATA], threads=2, member_bytes=50_000))
    assert subprocess.run(["gzip", "-dc"], input=packed, capture_output=True, check=True).stdout == DATA


def test_a_streaming_reader_that_restarts_at_each_member_reads_it_all():
    packed = b"".join(gzip_members([DATA], threads=2, member_bytes=300_000))
    out, rest = b"", packed
    while rest:
        reader = zlib.decompressobj(31)
        out += reader.decompress(rest)
        rest = reader.unused_data
    assert out == DATA


def test_empty_input_is_a_valid_empty_gzip_file():
    assert gzip.decompress(b"".join(gzip_members([]))) == b""
    assert gzip.decompress(b"".join(gzip_members([b""]))) == b""


def test_a_file_compressed_whole(tmp_path):
    source = tmp_path / "part-0.csv"
    source.write_bytes(DATA)
    target = io.BytesIO()
    gzip_file(source, target, threads=os.cpu_count() or 1, member_bytes=123_457)
    assert gzip.decompress(target.getvalue()) == DATA
