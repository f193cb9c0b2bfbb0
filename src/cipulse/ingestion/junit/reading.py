"""Report bytes → an XML tree: gzip bounded, no DTD, no entities (pure).

Reports come from the network, so they are read defensively: a gzip body is inflated a
chunk at a time and refused past the size limit (a gzip bomb never fills memory), and the
XML is parsed by ``defusedxml``, which refuses any DTD (and with it entity expansion such as
"billion laughs" and external entities) instead of resolving it."""

from __future__ import annotations

import zlib
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException

from cipulse.errors import InvalidRequest, PayloadTooLarge

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1024 * 1024


def inflated(data: bytes, limit: int, where: str) -> bytes:
    """``data`` itself, or inflated when it is gzip (by its magic bytes), at most ``limit``
    bytes either way."""
    if not data.startswith(GZIP_MAGIC):
        if len(data) > limit:
            raise PayloadTooLarge(f"{where}: larger than the limit of {limit} bytes")
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, _CHUNK)
            if len(out) > limit:
                raise PayloadTooLarge(
                    f"{where}: larger than the limit of {limit} bytes once decompressed"
                )
            pending = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as error:
        raise InvalidRequest(f"{where}: not valid gzip ({error})") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"{where}: larger than the limit of {limit} bytes once decompressed")
    return bytes(out)


def parsed(data: bytes, where: str) -> Element:
    """The root element; a DTD, an entity or malformed XML is a 400 naming the report."""
    try:
        root: Element = safe_xml.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as refused:
        raise InvalidRequest(
            f"{where}: refused: {type(refused).__name__} (DTDs and entities are not accepted)"
        ) from None
    except ParseError as error:
        raise InvalidRequest(f"{where}: not well-formed XML ({error})") from None
    return root
