"""Hostile and odd input files, built in code for tests/ops/test_hostile_inputs.py.

Every builder returns bytes and is fast: bombs are made by repeating one compressed block, not by
compressing gigabytes, and the 10,000-page PDF shares one content stream among all its pages.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Sequence

from PIL import Image

from ops.pdf.synth import serialise

PROSE = "the quick brown fox jumps over the lazy dog and runs away home"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


# -- a minimal PDF writer ------------------------------------------------------------------------


def stream_object(dictionary: bytes, data: bytes) -> bytes:
    """A stream object's body; ``dictionary`` holds the entries besides /Length, without << >>."""
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def write_pdf(
    objects: Sequence[bytes],
    *,
    trailer: bytes = b"",
    xref_offset_shift: int = 0,
    startxref_shift: int = 0,
) -> bytes:
    """A PDF 1.7 of ``objects`` (see :func:`ops.pdf.synth.serialise`)."""
    return serialise(
        objects,
        version=b"1.7",
        trailer=trailer + b" " if trailer else b"",
        xref_offset_shift=xref_offset_shift,
        startxref_shift=startxref_shift,
    )


def _text_content(lines: Sequence[str], height: float = 792.0, size: float = 12.0) -> bytes:
    top = max(height - 72.0, size)
    body = [f"BT /F1 {size:g} Tf {size * 1.5:g} TL 72 {top:g} Td"]
    body += [f"({line}) Tj T*" for line in lines]
    body.append("ET")
    return "\n".join(body).encode("latin-1")


def simple_pdf(
    pages: int = 1,
    *,
    media_box: str = "0 0 612 792",
    content: bytes | None = None,
    page_extra: bytes = b"",
    catalog_extra: bytes = b"",
    resources_extra: bytes = b"",
    extra_objects: Sequence[bytes] = (),
    **write_options: int,
) -> bytes:
    """``pages`` pages that share one content stream (prose by default) and one font.

    Objects: 1 catalog, 2 page tree, 3 content stream, 4 font, 5.. ``extra_objects``, then the
    pages. Extra entries go into the catalog, every page dict and every page's /Resources.
    """
    data = _text_content([f"Page text: {PROSE}"] * 4) if content is None else content
    first_page = 5 + len(extra_objects)
    kids = b" ".join(b"%d 0 R" % (first_page + index) for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R %s >>" % catalog_extra,
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        stream_object(b"", data),
        _FONT,
        *extra_objects,
    ]
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] /Contents 3 0 R "
        b"/Resources << /Font << /F1 4 0 R >> %s >> %s >>"
        % (media_box.encode(), resources_extra, page_extra)
    )
    objects += [page] * pages
    return write_pdf(objects, **write_options)


def many_pages_pdf(pages: int) -> bytes:
    """A valid ``pages``-page PDF, written directly: 10,000 pages take ~10 ms and 1.6 MB."""
    return simple_pdf(pages)


# -- structural damage ---------------------------------------------------------------------------


def truncated(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def broken_xref_pdf(mode: str) -> bytes:
    """A 2-page PDF whose cross-reference data is wrong.

    ``offsets``: every xref offset is 7 bytes off; ``startxref``: startxref points into the
    middle of an object; ``missing``: no xref table or trailer at all.
    """
    if mode == "offsets":
        return simple_pdf(2, xref_offset_shift=7)
    if mode == "startxref":
        return simple_pdf(2, startxref_shift=-40)
    if mode == "missing":
        data = simple_pdf(2)
        return data[: data.rindex(b"xref\n")]
    raise ValueError(mode)


def page_tree_loop_pdf(mode: str) -> bytes:
    """A page tree that is not a tree.

    ``self``: the root /Pages lists itself among its kids (next to one real page);
    ``ancestor``: an intermediate /Pages node lists the root (its parent) as a kid;
    ``count``: a one-page tree whose /Count claims 1,000,000 pages.
    """
    content = stream_object(b"", _text_content([f"Real page: {PROSE}"] * 3))
    page = b"<< /Type /Page /Parent %s /MediaBox [0 0 612 792] /Contents 3 0 R "
    page += b"/Resources << /Font << /F1 4 0 R >> >> >>"
    if mode == "self":
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [5 0 R 2 0 R] /Count 2 >>",
            content,
            _FONT,
            page % b"2 0 R",
        ]
    elif mode == "ancestor":
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [5 0 R 6 0 R] /Count 3 >>",
            content,
            _FONT,
            page % b"2 0 R",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 2 >>",
        ]
    elif mode == "count":
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [5 0 R] /Count 1000000 >>",
            content,
            _FONT,
            page % b"2 0 R",
        ]
    else:
        raise ValueError(mode)
    return write_pdf(objects)


def form_cycle_pdf(mode: str) -> bytes:
    """A page that draws a Form XObject that (eventually) draws itself.

    ``self``: /Fm1 draws /Fm1; ``mutual``: /Fm1 draws /Fm2, which draws /Fm1;
    ``fanout``: a DAG, not a cycle: each of 40 forms draws the next one twice (2^40 draws if
    nothing stops it).
    """
    text = _text_content([f"Before the forms: {PROSE}"] * 3)
    form_dict = (
        b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << %s >> >>"
    )
    if mode == "self":
        forms = [stream_object(form_dict % b"/Fm1 5 0 R", b"q 0.5 0 0 0.5 10 10 cm /Fm1 Do Q")]
    elif mode == "mutual":
        forms = [
            stream_object(form_dict % b"/Fm2 6 0 R", b"q 1 0 0 1 1 1 cm /Fm2 Do Q"),
            stream_object(form_dict % b"/Fm1 5 0 R", b"q 1 0 0 1 1 1 cm /Fm1 Do Q 0 0 5 5 re f"),
        ]
    elif mode == "fanout":
        depth = 40
        forms = []
        for level in range(depth):
            child = b"/Fm1 %d 0 R" % (6 + level) if level + 1 < depth else b""
            draw = b"/Fm1 Do /Fm1 Do" if level + 1 < depth else b"0 0 1 1 re f"
            forms.append(stream_object(form_dict % child, b"q " + draw + b" Q"))
    else:
        raise ValueError(mode)
    return simple_pdf(
        content=text + b"\nq /Fm1 Do Q",
        resources_extra=b"/XObject << /Fm1 5 0 R >>",
        extra_objects=forms,
    )


# -- decompression bombs -------------------------------------------------------------------------


def zeros_deflate(size: int) -> bytes:
    """A zlib stream that inflates to ``size`` zero bytes (~1 KB per MB), built without ever
    holding ``size`` bytes: one compressed 1 MiB block, repeated."""
    chunk = 1 << 20
    full, rest = divmod(size, chunk)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    # After a full flush the compressor forgets its history: every further block is identical.
    assert compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH) == again
    parts = [b"\x78\xda"]
    if full:
        parts += [first] + [again] * (full - 1)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(tail.compress(bytes(rest)) + tail.flush(zlib.Z_FINISH))
    adler = (size % 65521) << 16 | 1  # adler32 of `size` zero bytes
    parts.append(struct.pack(">I", adler))
    return b"".join(parts)


def flate_image_bomb_pdf(width: int, height: int) -> bytes:
    """One page showing a greyscale image of ``width`` x ``height`` px whose FlateDecode stream of
    zeros is tiny; inflated it is width x height bytes."""
    image = stream_object(
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode" % (width, height),
        zeros_deflate(width * height),
    )
    return simple_pdf(
        content=b"q 612 0 0 792 0 0 cm /Im1 Do Q",
        resources_extra=b"/XObject << /Im1 5 0 R >>",
        extra_objects=[image],
    )


def content_bomb_pdf(size: int) -> bytes:
    """One page whose content stream inflates to ``size`` bytes of NULs (whitespace in PDF) after
    a line of real text. pdfium inflates content streams whole inside FPDF_LoadPage (1.1 GB of NULs
    cost 2.2 GB of memory), which no ops code can intercept: only the pipeline's per-page memory
    ceiling stops it (tests/pipelines/test_hostile_pipeline.py)."""
    text = _text_content([f"Bomb page: {PROSE}"] * 3)
    body = zeros_deflate(size)
    text_object = stream_object(b"", text)
    bomb = stream_object(b"/Filter /FlateDecode", body)
    page_tree = b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>"
    page = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [3 0 R 5 0 R] "
        b"/Resources << /Font << /F1 4 0 R >> >> >>"
    )
    return write_pdf(
        [b"<< /Type /Catalog /Pages 2 0 R >>", page_tree, text_object, _FONT, bomb, page]
    )


def _jbig2_segment(number: int, kind: int, data: bytes, page: int = 1) -> bytes:
    # Segment header (T.88 7.2): number, flags (type), referred-to segments (none), page, length.
    return struct.pack(">IBBBI", number, kind, 0, page, len(data)) + data


def jbig2_bomb_stream(width: int, height: int) -> bytes:
    """An embedded JBIG2 stream (as in PDF /JBIG2Decode) for an all-white ``width`` x ``height``
    page: one MMR generic region whose rows are each a single "V0" code, so ~height/8 bytes."""
    page_info = struct.pack(">IIIIBH", width, height, 0, 0, 0, 0)
    region_info = struct.pack(">IIIIB", width, height, 0, 0, 0)
    mmr = b"\x01"  # generic region flags: MMR coding
    # T.6 two-dimensional coding: a white row under a white reference row is one V0 ("1") bit.
    rows = b"\xff" * -(-height // 8)
    eofb = b"\x00\x10\x01"  # EOFB: two EOL codes (000000000001 000000000001)
    region = region_info + mmr + rows + eofb
    return (
        _jbig2_segment(0, 48, page_info)  # page information
        + _jbig2_segment(1, 38, region)  # immediate generic region
        + _jbig2_segment(2, 49, b"")  # end of page
    )


def jbig2_bomb_pdf(width: int, height: int) -> bytes:
    image = stream_object(
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 1 /Filter /JBIG2Decode" % (width, height),
        jbig2_bomb_stream(width, height),
    )
    return simple_pdf(
        content=b"q 612 0 0 792 0 0 cm /Im1 Do Q",
        resources_extra=b"/XObject << /Im1 5 0 R >>",
        extra_objects=[image],
    )


# -- active content and attachments --------------------------------------------------------------


def javascript_pdf() -> bytes:
    """Document-level JavaScript run on open (/OpenAction and /Names /JavaScript), plus a page
    /AA action: a viewer with a JS engine would run them; pdfium without a form env does not."""
    script = b"app.alert\\('pwned'\\); this.exportDataObject\\({ cName: 'payload.exe' }\\);"
    js = b"<< /Type /Action /S /JavaScript /JS (%s) >>" % script
    names = b"<< /Names [(run) 5 0 R] >>"
    return simple_pdf(
        2,
        catalog_extra=b"/OpenAction 5 0 R /Names << /JavaScript 6 0 R >>",
        page_extra=b"/AA << /O 5 0 R >>",
        extra_objects=[js, names],
    )


def attachment_pdf() -> bytes:
    """An embedded file (an .exe-named payload) in /EmbeddedFiles and as a page annotation."""
    payload = stream_object(b"/Type /EmbeddedFile /Subtype /application#2Foctet-stream", b"MZ" * 64)
    spec = b"<< /Type /Filespec /F (payload.exe) /UF (payload.exe) /EF << /F 5 0 R >> >>"
    names = b"<< /Names [(payload.exe) 6 0 R] >>"
    annot = b"<< /Type /Annot /Subtype /FileAttachment /Rect [10 10 30 30] /FS 6 0 R >>"
    return simple_pdf(
        1,
        catalog_extra=b"/Names << /EmbeddedFiles 7 0 R >>",
        page_extra=b"/Annots [8 0 R]",
        extra_objects=[payload, spec, names, annot],
    )


# -- encryption (standard security handler, RC4, revision 3) --------------------------------------

_PASSWORD_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _pad(password: str) -> bytes:
    return (password.encode("latin-1") + _PASSWORD_PAD)[:32]


def encrypted_pdf(user_password: str, owner_password: str, pages: int = 2) -> bytes:
    """A PDF encrypted with the standard security handler (RC4 128-bit, R3; PDF 1.7 §7.6.3).

    An empty ``user_password`` makes an owner-password-only file: it opens without a password.
    """
    key_length = 16
    permissions = -3904  # printing and copying denied, as owner-protected files often are
    file_id = hashlib.md5(b"pagemill hostile " + user_password.encode()).digest()
    # Algorithm 3: the /O entry.
    owner_key = hashlib.md5(_pad(owner_password or user_password)).digest()
    for _ in range(50):
        owner_key = hashlib.md5(owner_key).digest()
    o_value = _rc4(owner_key, _pad(user_password))
    for round_ in range(1, 20):
        o_value = _rc4(bytes(b ^ round_ for b in owner_key), o_value)
    # Algorithm 2: the file key.
    key = hashlib.md5(
        _pad(user_password) + o_value + struct.pack("<i", permissions) + file_id
    ).digest()
    for _ in range(50):
        key = hashlib.md5(key[:key_length]).digest()
    key = key[:key_length]
    # Algorithm 5: the /U entry.
    u_value = _rc4(key, hashlib.md5(_PASSWORD_PAD + file_id).digest())
    for round_ in range(1, 20):
        u_value = _rc4(bytes(b ^ round_ for b in key), u_value)
    u_value += bytes(16)

    def object_key(number: int) -> bytes:
        digest = hashlib.md5(key + struct.pack("<I", number)[:3] + b"\x00\x00").digest()
        return digest[: min(key_length + 5, 16)]

    text = _text_content([f"Secret page: {PROSE}"] * 4)
    kids = b" ".join(b"%d 0 R" % (5 + index) for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        stream_object(b"", _rc4(object_key(3), text)),
        _FONT,
    ]
    objects += [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
        b"/Resources << /Font << /F1 4 0 R >> >> >>"
    ] * pages
    encrypt_number = len(objects) + 1
    objects.append(
        b"<< /Filter /Standard /V 2 /R 3 /Length %d /P %d /O <%s> /U <%s> >>"
        % (key_length * 8, permissions, o_value.hex().encode(), u_value.hex().encode())
    )
    trailer = b"/Encrypt %d 0 R /ID [<%s> <%s>]" % (
        encrypt_number,
        file_id.hex().encode(),
        file_id.hex().encode(),
    )
    return write_pdf(objects, trailer=trailer)


# -- images --------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` 8-bit grey pixels but carries one tiny IDAT:
    decoding it would need width x height bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(bytes(width + 1)))
        + _png_chunk(b"IEND", b"")
    )


def multipage_tiff(frames: int, size: tuple[int, int] = (240, 160)) -> bytes:
    """An uncompressed multi-page greyscale TIFF, frame ``i`` filled with grey level 250 - 60 i."""
    images = [Image.new("L", size, max(0, 250 - 60 * index)) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="TIFF", save_all=True, append_images=images[1:], dpi=(200, 200))
    return buffer.getvalue()


def tiff_with_corrupt_frame(frames: int, corrupt: int) -> bytes:
    """A multi-page TIFF whose frame ``corrupt`` has a strip offset pointing past the end of the
    file: its directory reads, its pixels do not."""
    data = bytearray(multipage_tiff(frames))
    image = Image.open(io.BytesIO(bytes(data)))
    image.seek(corrupt)
    # Find the StripOffsets (tag 273) entry in this frame's IFD and point it far past the end.
    ifd_offset = image.tile[0][2]  # strip data offset of this frame
    needle = struct.pack("<HHI", 273, 4, 1) + struct.pack("<I", ifd_offset)
    at = bytes(data).find(needle)
    assert at >= 0, "strip offset entry not found"
    data[at + 8 : at + 12] = struct.pack("<I", 0x7FFF0000)
    return bytes(data)


def tiff_with_looping_frames() -> bytes:
    """A 2-page TIFF whose last directory names the first as the next one: an endless chain."""
    data = bytearray(multipage_tiff(2, size=(16, 16)))
    first = struct.unpack_from("<I", data, 4)[0]
    second = struct.unpack_from(
        "<I", data, first + 2 + 12 * struct.unpack_from("<H", data, first)[0]
    )[0]
    next_field = second + 2 + 12 * struct.unpack_from("<H", data, second)[0]
    struct.pack_into("<I", data, next_field, first)
    return bytes(data)


def image_bytes(size: tuple[int, int], image_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 200).save(buffer, format=image_format)
    return buffer.getvalue()
