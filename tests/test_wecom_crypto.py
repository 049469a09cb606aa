import base64
import json

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.channels.wecom.crypto import (
    MAX_CALLBACK_BYTES,
    BadReceiveId,
    BadSignature,
    MalformedPayload,
    WeComCrypto,
    WeComCryptoError,
)
from bot.channels.wecom.messages import (
    KEY_CHARS,
    ContactChange,
    InboundMedia,
    InboundText,
    OtherEvent,
    TemplateCardClick,
    dedupe_key,
    parse_inbound,
)

# Tencent's published sample for the WeCom callback URL check.
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
SAMPLE_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
SAMPLE_TIMESTAMP = "1409659589"
SAMPLE_NONCE = "263014780"
SAMPLE_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
SAMPLE_ECHO = "1616140317555161061"

# Random prefix, length field and CorpID take 16 + 4 + 18 bytes around the message.
OVERHEAD = 16 + 4 + len(CORP_ID)

TEXT_XML = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    "<FromUserName><![CDATA[zhangsan]]></FromUserName>"
    "<CreateTime>1700000000</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType>"
    "<Content><![CDATA[请提醒我周五前提交保密自查表]]></Content>"
    "<MsgId>7315938762845716489</MsgId>"
    "<AgentID>1000002</AgentID></xml>"
)

BILLION_LAUGHS = (
    '<?xml version="1.0"?>'
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
    '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    "<xml><Encrypt>&d;</Encrypt></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>'
    '<!DOCTYPE xml [<!ENTITY ext SYSTEM "http://attacker.invalid/secret">]>'
    "<xml><Encrypt>&ext;</Encrypt></xml>"
)


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def _raw_decrypt(ciphertext_b64: str) -> bytes:
    """Decrypt independently of the module under test, padding included."""
    key = base64.b64decode(AES_KEY + "=")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    return decryptor.update(base64.b64decode(ciphertext_b64)) + decryptor.finalize()


def _envelope_fields(envelope: bytes) -> tuple[str, str, str, str]:
    root = fromstring(envelope)
    return (
        root.findtext("Encrypt") or "",
        root.findtext("MsgSignature") or "",
        root.findtext("TimeStamp") or "",
        root.findtext("Nonce") or "",
    )


def _signed_body(crypto: WeComCrypto, encrypted: str) -> tuple[bytes, str]:
    body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    return body.encode(), crypto.signature("1700000000", "nonce1", encrypted)


# --- Tencent's sample -------------------------------------------------------------------------------


def test_tencent_sample_url_verification(crypto: WeComCrypto) -> None:
    echo = crypto.verify_url(SAMPLE_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ECHOSTR)
    assert echo == SAMPLE_ECHO


def test_tencent_sample_signature(crypto: WeComCrypto) -> None:
    assert crypto.signature(SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ECHOSTR) == SAMPLE_SIGNATURE


def test_encrypt_reproduces_tencent_ciphertext_given_its_random_prefix(crypto: WeComCrypto) -> None:
    random16 = _raw_decrypt(SAMPLE_ECHOSTR)[:16]
    assert crypto.encrypt(SAMPLE_ECHO, random16=random16) == SAMPLE_ECHOSTR


def test_tencent_sample_with_tampered_signature(crypto: WeComCrypto) -> None:
    tampered = SAMPLE_SIGNATURE[:-1] + ("0" if SAMPLE_SIGNATURE[-1] != "0" else "1")
    with pytest.raises(BadSignature):
        crypto.verify_url(tampered, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ECHOSTR)


def test_tencent_sample_with_wrong_token() -> None:
    other = WeComCrypto("otherToken", AES_KEY, CORP_ID)
    with pytest.raises(BadSignature):
        other.verify_url(SAMPLE_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ECHOSTR)


def test_tencent_sample_with_changed_timestamp(crypto: WeComCrypto) -> None:
    with pytest.raises(BadSignature):
        crypto.verify_url(SAMPLE_SIGNATURE, "1409659590", SAMPLE_NONCE, SAMPLE_ECHOSTR)


# --- construction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "key", "receive_id"),
    [
        (TOKEN, AES_KEY[:-1], CORP_ID),
        (TOKEN, AES_KEY + "A", CORP_ID),
        (TOKEN, AES_KEY[:-1] + "!", CORP_ID),
        ("", AES_KEY, CORP_ID),
        (TOKEN, AES_KEY, ""),
    ],
    ids=["key-too-short", "key-too-long", "key-not-base64", "empty-token", "empty-receive-id"],
)
def test_constructor_rejects_bad_configuration(token: str, key: str, receive_id: str) -> None:
    with pytest.raises(ValueError):
        WeComCrypto(token, key, receive_id)


# --- round trips and padding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "保密工作通知：请于本周五前完成涉密计算机自查，并将自查表报送局保密办。",
        "a" * (64 - OVERHEAD - 1),
        "a" * (64 - OVERHEAD),
        "a" * (64 - OVERHEAD + 1),
        "密" * 29 + "ab",
        "密" * 30,
        "密" * 30 + "a",
        "",
    ],
    ids=[
        "chinese",
        "boundary-minus-1",
        "boundary",
        "boundary-plus-1",
        "cjk-minus-1",
        "cjk-boundary",
        "cjk-plus-1",
        "empty",
    ],
)
def test_round_trip_pads_to_32_byte_blocks(crypto: WeComCrypto, message: str) -> None:
    encrypted = crypto.encrypt(message)
    unpadded_length = OVERHEAD + len(message.encode("utf-8"))
    pad = 32 - unpadded_length % 32
    raw = _raw_decrypt(encrypted)
    assert len(raw) == unpadded_length + pad
    assert raw[-pad:] == bytes([pad]) * pad
    assert raw[16:20] == len(message.encode("utf-8")).to_bytes(4, "big")
    assert raw[unpadded_length - len(CORP_ID) : unpadded_length] == CORP_ID.encode()

    signature = crypto.signature("1700000000", "nonce1", encrypted)
    assert crypto.verify_url(signature, "1700000000", "nonce1", encrypted) == message


def test_exact_boundary_adds_a_full_block_of_padding(crypto: WeComCrypto) -> None:
    raw = _raw_decrypt(crypto.encrypt("密" * 30))
    assert OVERHEAD + 90 == 128
    assert len(raw) == 160
    assert raw[-32:] == b"\x20" * 32


def test_fixed_random_prefix_is_deterministic_and_default_is_random(crypto: WeComCrypto) -> None:
    prefix = bytes(range(16))
    assert crypto.encrypt("hello", random16=prefix) == crypto.encrypt("hello", random16=prefix)
    assert _raw_decrypt(crypto.encrypt("hello", random16=prefix))[:16] == prefix
    assert crypto.encrypt("hello") != crypto.encrypt("hello")


def test_random_prefix_must_be_16_bytes(crypto: WeComCrypto) -> None:
    with pytest.raises(ValueError):
        crypto.encrypt("hello", random16=b"short")


def test_encrypt_callback_round_trip(crypto: WeComCrypto) -> None:
    envelope = crypto.encrypt_callback(TEXT_XML, "1700000000", "nonce-42")
    encrypted, signature, timestamp, nonce = _envelope_fields(envelope)
    assert (timestamp, nonce) == ("1700000000", "nonce-42")
    assert signature == crypto.signature(timestamp, nonce, encrypted)
    assert crypto.decrypt_callback(envelope, signature, timestamp, nonce) == TEXT_XML


def test_encrypt_callback_rejects_values_it_cannot_embed(crypto: WeComCrypto) -> None:
    with pytest.raises(ValueError):
        crypto.encrypt_callback(TEXT_XML, "17000<00", "n")
    with pytest.raises(ValueError):
        crypto.encrypt_callback(TEXT_XML, "1700000000", "n]]>")


def test_decrypt_callback_accepts_the_wecom_post_shape(crypto: WeComCrypto) -> None:
    body, signature = _signed_body(crypto, crypto.encrypt(TEXT_XML))
    assert crypto.decrypt_callback(body, signature, "1700000000", "nonce1") == TEXT_XML


def test_full_pipeline_from_envelope_to_message(crypto: WeComCrypto) -> None:
    envelope = crypto.encrypt_callback(TEXT_XML, "1700000000", "n")
    _, signature, timestamp, nonce = _envelope_fields(envelope)
    msg = parse_inbound(crypto.decrypt_callback(envelope, signature, timestamp, nonce))
    assert msg == InboundText(
        from_user="zhangsan",
        create_time=1700000000,
        msg_id="7315938762845716489",
        content="请提醒我周五前提交保密自查表",
        agent_id=1000002,
    )


# --- rejections ---------------------------------------------------------------------------------------


def test_tampered_signature_on_post(crypto: WeComCrypto) -> None:
    envelope = crypto.encrypt_callback(TEXT_XML, "1700000000", "n")
    _, signature, timestamp, nonce = _envelope_fields(envelope)
    with pytest.raises(BadSignature):
        crypto.decrypt_callback(envelope, signature.replace(signature[0], "x", 1), timestamp, nonce)


def test_tampered_ciphertext_breaks_the_signature(crypto: WeComCrypto) -> None:
    encrypted = crypto.encrypt(TEXT_XML)
    body, signature = _signed_body(crypto, encrypted)
    tampered = ("B" if encrypted[0] == "A" else "A") + encrypted[1:]
    tampered_body = body.replace(encrypted.encode(), tampered.encode())
    with pytest.raises(BadSignature):
        crypto.decrypt_callback(tampered_body, signature, "1700000000", "nonce1")


def test_tampered_ciphertext_with_forged_signature_fails_to_decrypt(crypto: WeComCrypto) -> None:
    # Whoever knows the token can sign anything; the key still guards the content. Flipping the top
    # bit of ciphertext byte 0 flips the top bit of the length field in the next CBC block.
    ciphertext = bytearray(base64.b64decode(crypto.encrypt(TEXT_XML)))
    ciphertext[0] ^= 0x80
    forged = base64.b64encode(bytes(ciphertext)).decode()
    body, signature = _signed_body(crypto, forged)
    with pytest.raises(MalformedPayload, match="length field"):
        crypto.decrypt_callback(body, signature, "1700000000", "nonce1")


def test_tampered_last_block_fails_padding(crypto: WeComCrypto) -> None:
    ciphertext = bytearray(base64.b64decode(crypto.encrypt(TEXT_XML, random16=bytes(16))))
    ciphertext[-1] ^= 0x01
    forged = base64.b64encode(bytes(ciphertext)).decode()
    signature = crypto.signature("1", "2", forged)
    with pytest.raises(MalformedPayload, match="padding"):
        crypto.verify_url(signature, "1", "2", forged)


def test_wrong_receive_id(crypto: WeComCrypto) -> None:
    other_corp = WeComCrypto(TOKEN, AES_KEY, "wwotherCorp0000000")
    envelope = other_corp.encrypt_callback(TEXT_XML, "1700000000", "n")
    _, signature, timestamp, nonce = _envelope_fields(envelope)
    with pytest.raises(BadReceiveId):
        crypto.decrypt_callback(envelope, signature, timestamp, nonce)


def test_receive_id_that_is_a_prefix_is_still_wrong(crypto: WeComCrypto) -> None:
    longer = WeComCrypto(TOKEN, AES_KEY, CORP_ID + "x")
    encrypted = longer.encrypt("hi")
    with pytest.raises(BadReceiveId):
        crypto.verify_url(crypto.signature("1", "2", encrypted), "1", "2", encrypted)


def test_wrong_key_is_not_accepted() -> None:
    sender = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
    receiver = WeComCrypto(TOKEN, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", CORP_ID)
    encrypted = sender.encrypt(TEXT_XML, random16=bytes(16))
    with pytest.raises(WeComCryptoError):
        receiver.verify_url(receiver.signature("1", "2", encrypted), "1", "2", encrypted)


@pytest.mark.parametrize(
    "encrypted",
    [
        "not base64!!",
        "QUJD",  # valid base64, but 3 bytes: not a whole AES block
        base64.b64encode(bytes(20)).decode(),
        base64.b64encode(bytes(32)).decode()[:-2],  # padding stripped
    ],
    ids=["bad-characters", "short", "not-block-multiple", "missing-padding"],
)
def test_bad_base64_or_length(crypto: WeComCrypto, encrypted: str) -> None:
    with pytest.raises(MalformedPayload):
        crypto.verify_url(crypto.signature("1", "2", encrypted), "1", "2", encrypted)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><Encrypt>abc</Encrypt>",
        b"not xml at all",
        b"<xml><ToUserName>x</ToUserName></xml>",
        b"<xml><Encrypt/></xml>",
    ],
    ids=["unclosed", "not-xml", "no-encrypt", "empty-encrypt"],
)
def test_malformed_callback_body(crypto: WeComCrypto, body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        crypto.decrypt_callback(body, "0" * 40, "1", "2")


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_entity_attacks_on_callback_body_are_refused_by_defusedxml(crypto: WeComCrypto, body: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        crypto.decrypt_callback(body.encode(), "0" * 40, "1", "2")
    assert isinstance(caught.value.__cause__, DefusedXmlException)


def test_body_at_the_limit_is_accepted_and_one_byte_more_is_refused(crypto: WeComCrypto) -> None:
    envelope = crypto.encrypt_callback(TEXT_XML, "1700000000", "n")
    _, signature, timestamp, nonce = _envelope_fields(envelope)
    at_limit = envelope.replace(b"</xml>", b" " * (MAX_CALLBACK_BYTES - len(envelope)) + b"</xml>")
    assert len(at_limit) == MAX_CALLBACK_BYTES
    assert crypto.decrypt_callback(at_limit, signature, timestamp, nonce) == TEXT_XML
    over = at_limit.replace(b"</xml>", b" </xml>")
    with pytest.raises(MalformedPayload, match="exceeds"):
        crypto.decrypt_callback(over, signature, timestamp, nonce)


def test_oversized_body_is_refused_before_parsing(crypto: WeComCrypto) -> None:
    # Not even well-formed: only a size check that runs first can produce this message.
    with pytest.raises(MalformedPayload, match="exceeds"):
        crypto.decrypt_callback(b"<" * (MAX_CALLBACK_BYTES + 1), "0" * 40, "1", "2")


def test_oversized_ciphertext_is_refused(crypto: WeComCrypto) -> None:
    encrypted = "A" * (MAX_CALLBACK_BYTES + 4)
    with pytest.raises(MalformedPayload, match="size limit"):
        crypto.verify_url(crypto.signature("1", "2", encrypted), "1", "2", encrypted)


def test_non_utf8_message_is_malformed(crypto: WeComCrypto) -> None:
    key = base64.b64decode(AES_KEY + "=")
    message = b"\xff\xfe"
    raw = bytes(16) + len(message).to_bytes(4, "big") + message + CORP_ID.encode()
    pad = 32 - len(raw) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(raw + bytes([pad]) * pad) + encryptor.finalize()).decode()
    with pytest.raises(MalformedPayload, match="UTF-8"):
        crypto.verify_url(crypto.signature("1", "2", encrypted), "1", "2", encrypted)


# --- inner message parsing ----------------------------------------------------------------------------


def test_parse_text() -> None:
    msg = parse_inbound('<?xml version="1.0" encoding="UTF-8"?>' + TEXT_XML)
    assert isinstance(msg, InboundText)
    assert msg.content == "请提醒我周五前提交保密自查表"
    assert msg.agent_id == 1000002
    assert msg.create_time == 1700000000
    assert dedupe_key(msg) == "msg:7315938762845716489"


def test_parse_image() -> None:
    msg = parse_inbound(
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1700000100</CreateTime>"
        "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[https://example.invalid/p.jpg]]></PicUrl>"
        "<MediaId><![CDATA[media_id]]></MediaId><MsgId>1234567890123456</MsgId>"
        "<AgentID>1000002</AgentID></xml>"
    )
    assert msg == InboundMedia(
        from_user="lisi", create_time=1700000100, msg_id="1234567890123456", kind="image", agent_id=1000002
    )
    assert dedupe_key(msg) == "msg:1234567890123456"


def test_parse_template_card_event() -> None:
    msg = parse_inbound(
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[wangwu]]></FromUserName><CreateTime>1700000200</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>"
        "<EventKey><![CDATA[confirm_read]]></EventKey><TaskId><![CDATA[notice-17-wangwu]]></TaskId>"
        "<CardType><![CDATA[button_interaction]]></CardType>"
        "<ResponseCode><![CDATA[resp-code-abc]]></ResponseCode><AgentID>1000002</AgentID>"
        "<SelectedItems></SelectedItems></xml>"
    )
    assert msg == TemplateCardClick(
        from_user="wangwu",
        create_time=1700000200,
        event_key="confirm_read",
        task_id="notice-17-wangwu",
        response_code="resp-code-abc",
        card_type="button_interaction",
        agent_id=1000002,
    )


def test_parse_enter_agent_with_empty_event_key() -> None:
    msg = parse_inbound(
        "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
        "<FromUserName><![CDATA[zhaoliu]]></FromUserName><CreateTime>1408091189</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event>"
        "<EventKey><![CDATA[]]></EventKey><AgentID>1</AgentID></xml>"
    )
    assert msg == OtherEvent(from_user="zhaoliu", create_time=1408091189, event="enter_agent", event_key="", agent_id=1)


def test_parse_subscribe_without_event_key() -> None:
    msg = parse_inbound(
        "<xml><FromUserName>u1</FromUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType>event</MsgType><Event>subscribe</Event><AgentID>1</AgentID></xml>"
    )
    assert msg == OtherEvent(from_user="u1", create_time=1348831860, event="subscribe", agent_id=1)


def _card(task_id: str, event_key: str, create_time: int = 1700000200) -> TemplateCardClick:
    return TemplateCardClick("wangwu", create_time, event_key, task_id, "code", "button_interaction")


def test_dedupe_keys_for_events() -> None:
    assert dedupe_key(_card("t1", "yes")) == dedupe_key(_card("t1", "yes"))
    distinct = {
        dedupe_key(_card("t1", "yes")),
        dedupe_key(_card("t2", "yes")),
        dedupe_key(_card("t1", "no")),
        dedupe_key(_card("t1", "yes", create_time=1700000201)),
        # A separator inside one field must not make two different clicks collide.
        dedupe_key(_card("a:b", "c")),
        dedupe_key(_card("a", "b:c")),
        dedupe_key(OtherEvent("wangwu", 1700000200, "enter_agent")),
        dedupe_key(OtherEvent("wangwu", 1700000200, "click", "menu_a")),
        dedupe_key(OtherEvent("wangwu", 1700000200, "click", "menu_b")),
    }
    assert len(distinct) == 9


@pytest.mark.parametrize(
    "xml_text",
    [
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime>",
        "<notxml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType></notxml>",
        TEXT_XML.replace("<MsgId>7315938762845716489</MsgId>", ""),
        TEXT_XML.replace("<FromUserName><![CDATA[zhangsan]]></FromUserName>", ""),
        TEXT_XML.replace("<CreateTime>1700000000</CreateTime>", "<CreateTime>yesterday</CreateTime>"),
        TEXT_XML.replace("<AgentID>1000002</AgentID>", ""),
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType></xml>",
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
        "<Event>template_card_event</Event><EventKey>k</EventKey><CardType>c</CardType>"
        "<ResponseCode>r</ResponseCode></xml>",
        "<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>image</MsgType></xml>",
    ],
    ids=[
        "unclosed",
        "wrong-root",
        "text-no-msgid",
        "no-from-user",
        "bad-create-time",
        "text-no-agent",
        "event-no-event",
        "card-no-task-id",
        "image-no-msgid",
    ],
)
def test_parse_rejects_malformed_or_incomplete_messages(xml_text: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_inbound(xml_text)


@pytest.mark.parametrize("xml_text", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "external-entity"])
def test_parse_refuses_entity_attacks(xml_text: str) -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_inbound(xml_text)
    assert isinstance(caught.value.__cause__, DefusedXmlException)


def test_parse_refuses_oversized_message() -> None:
    padded = TEXT_XML.replace("</xml>", " " * MAX_CALLBACK_BYTES + "</xml>")
    with pytest.raises(MalformedPayload, match="exceeds"):
        parse_inbound(padded)


def test_parse_a_directory_change() -> None:
    # As WeCom documents 通讯录变更 (change_contact) for a renamed userid.
    msg = parse_inbound(
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        "<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_contact]]></Event><ChangeType>update_user</ChangeType>"
        "<UserID><![CDATA[zhangsan]]></UserID><NewUserID><![CDATA[zhangsan001]]></NewUserID>"
        "<Name><![CDATA[张三]]></Name><Status>1</Status></xml>"
    )
    assert msg == ContactChange("sys", 1403610513, "update_user", "zhangsan", "zhangsan001", "1")
    deleted = parse_inbound(
        "<xml><FromUserName>sys</FromUserName><CreateTime>1403610514</CreateTime><MsgType>event</MsgType>"
        "<Event>change_contact</Event><ChangeType>delete_user</ChangeType><UserID>zhangsan</UserID></xml>"
    )
    assert deleted == ContactChange("sys", 1403610514, "delete_user", "zhangsan")
    assert dedupe_key(msg) != dedupe_key(deleted) and dedupe_key(msg) == dedupe_key(msg)


def test_a_dedupe_key_fits_the_inbox_however_long_the_fields() -> None:
    long = _card("t" * 128, json.dumps(["qz:12:a:3:1", "A. " + "很长的选项" * 40], ensure_ascii=False))
    key = dedupe_key(long)
    assert len(key) <= KEY_CHARS and key.startswith("card#")
    assert key == dedupe_key(long) and key != dedupe_key(_card("t" * 128, "other"))
