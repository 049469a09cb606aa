"""The WeCom callback envelope: SHA-1 signatures and AES-256-CBC over 32-byte-padded plaintext.

Plaintext layout, as WeCom defines it: 16 random bytes, the message length as 4 big-endian bytes, the
message, then the receive id (the CorpID for a self-built application).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.etree.ElementTree import ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# Real callbacks are a few KiB; anything far larger is junk or an attack, refused before any parsing.
MAX_CALLBACK_BYTES = 64 * 1024

# WeCom pads to 32 bytes, not to the AES block size, so the cryptography padding helpers do not fit.
_PAD_BLOCK = 32
_AES_BLOCK = 16
_RANDOM_PREFIX = 16
_HEADER = _RANDOM_PREFIX + 4


class WeComCryptoError(Exception):
    """A callback that must not be trusted or cannot be read."""


class BadSignature(WeComCryptoError):
    """msg_signature does not match: not from WeCom, or the token is wrong."""


class BadReceiveId(WeComCryptoError):
    """The payload decrypted but was addressed to another corp (or the EncodingAESKey is shared)."""


class MalformedPayload(WeComCryptoError):
    """Bad base64, padding, length field, XML, encoding, or an oversized body."""


class StaleTimestamp(WeComCryptoError):
    """The signed timestamp is not within minutes of now: a replay of a recorded callback, or a clock far off."""


class WrongAgent(WeComCryptoError):
    """The message was sent to another application of the enterprise (its AgentID is not ours)."""


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            raise ValueError("WeCom token must not be empty")
        if not receive_id:
            raise ValueError("WeCom receive id (CorpID) must not be empty")
        if len(encoding_aes_key) != 43:
            raise ValueError("WeCom EncodingAESKey must be exactly 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValueError("WeCom EncodingAESKey is not valid base64") from exc
        self._token = token
        self._key = key
        self._iv = key[:_AES_BLOCK]
        self._receive_id = receive_id.encode("utf-8")

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        parts = sorted([self._token, timestamp, nonce, encrypted])
        return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """Answer WeCom's GET URL check: the plain echo to return as the response body."""
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_callback(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Verify and open an encrypted POST body; returns the inner plaintext XML."""
        if len(body) > MAX_CALLBACK_BYTES:
            raise MalformedPayload(f"callback body of {len(body)} bytes exceeds {MAX_CALLBACK_BYTES}")
        try:
            root = fromstring(body, forbid_dtd=True)
        except (ParseError, DefusedXmlException) as exc:
            raise MalformedPayload(f"callback body is not acceptable XML: {exc}") from exc
        element = root.find("Encrypt")
        if element is None or not element.text:
            raise MalformedPayload("callback body has no Encrypt element")
        encrypted = element.text.strip()
        self._check_signature(msg_signature, timestamp, nonce, encrypted)
        return self._decrypt(encrypted)

    def encrypt(self, plaintext: str, random16: bytes | None = None) -> str:
        """Seal a message as WeCom does; random16 is fixed only by tests that need a stable ciphertext."""
        prefix = os.urandom(_RANDOM_PREFIX) if random16 is None else random16
        if len(prefix) != _RANDOM_PREFIX:
            raise ValueError(f"random prefix must be {_RANDOM_PREFIX} bytes, got {len(prefix)}")
        message = plaintext.encode("utf-8")
        raw = prefix + struct.pack(">I", len(message)) + message + self._receive_id
        pad = _PAD_BLOCK - len(raw) % _PAD_BLOCK
        raw += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).encryptor()
        return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode("ascii")

    def encrypt_callback(self, plaintext_xml: str, timestamp: str, nonce: str) -> bytes:
        """The encrypted envelope, carrying its own signature; decrypt_callback reads only its Encrypt.

        This is the passive-reply format, and a test client posing as WeCom posts it with the
        MsgSignature it carries as the msg_signature query parameter.
        """
        if not timestamp.isdigit():
            raise ValueError("timestamp must be decimal digits")
        if "]]>" in nonce:
            raise ValueError("nonce cannot be carried in CDATA")
        encrypted = self.encrypt(plaintext_xml)
        signature = self.signature(timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        ).encode()

    def _check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode("ascii"), msg_signature.encode("utf-8")):
            raise BadSignature("msg_signature does not match")

    def _decrypt(self, encrypted: str) -> str:
        # The signature is always checked first, so padding failures below cannot serve as an oracle.
        if len(encrypted) > MAX_CALLBACK_BYTES:
            raise MalformedPayload("ciphertext exceeds the callback size limit")
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedPayload(f"ciphertext is not valid base64: {exc}") from exc
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise MalformedPayload(f"ciphertext length {len(ciphertext)} is not a whole number of AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._iv)).decryptor()
        raw = decryptor.update(ciphertext) + decryptor.finalize()
        pad = raw[-1]
        if not 1 <= pad <= _PAD_BLOCK or pad > len(raw) or raw[-pad:] != bytes([pad]) * pad:
            raise MalformedPayload("bad padding")
        raw = raw[:-pad]
        if len(raw) < _HEADER:
            raise MalformedPayload("plaintext too short for its header")
        (length,) = struct.unpack(">I", raw[_RANDOM_PREFIX:_HEADER])
        if length > len(raw) - _HEADER:
            raise MalformedPayload("length field runs past the plaintext")
        message = raw[_HEADER : _HEADER + length]
        if raw[_HEADER + length :] != self._receive_id:
            raise BadReceiveId("payload is addressed to a different receive id")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPayload("message is not valid UTF-8") from exc
