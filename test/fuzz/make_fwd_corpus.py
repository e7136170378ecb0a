#!/usr/bin/env python3
"""Regenerate the seed corpus of test/fuzz/fuzz_fwd_answer.c.

Each seed is one byte that selects the expectation (see SEL_* below and the
top of fuzz_fwd_answer.c) followed by the DER of an upstream CA's answer.
The answers are built here, field by field, from the key material in
test/fuzz/data/ that the fuzz target loads as its fixed upstream
configuration, so that the good seeds verify all the way through
ra_fwd_msg_verify: protection (Ed25519 signature by a CMP signer chaining to
the trusted root, or PBMAC with the shared secret), transactionID,
recipNonce, the certificate's key and subject, and its chain to the root.

Key material (created once with --new-keys, then committed):
  root.pem/.key    trusted anchor of the upstream (u->trusted)
  subca.pem/.key   issuing CA below root (sent in extraCerts or caPubs)
  signer.pem/.key  the upstream's CMP signer, issued by root
  device.pem/.key  the certificate the answers deliver (e->pub, e->subject)
  other.pem        a certificate for another key, issued by subca
  rogue.pem/.key   a self-signed CMP signer nobody trusts
  upstream.secret  the PBMAC shared secret (first line)

Everything but --new-keys is deterministic (Ed25519 signatures, fixed
times, salts and nonces): rerunning gives the same bytes.

Needs the `cryptography` package. Run from anywhere:
  python3 test/fuzz/make_fwd_corpus.py [--new-keys]
"""

import datetime
import hashlib
import hmac
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
CORPUS = os.path.join(HERE, "corpus", "fwd_answer")

# The fixed expectation of fuzz_fwd_answer.c (keep in step with it)
TID = bytes(range(0x10, 0x20))          # transactionID
OUR_NONCE = bytes([0x22] * 16)          # the RA's senderNonce to the upstream
DEV_NONCE = bytes([0x33] * 16)          # the device's senderNonce (nested style)

# Selector byte (first byte of every seed)
WANT_IP, WANT_CP, WANT_KUP, WANT_RP, WANT_PKICONF = 0, 1, 2, 3, 4
SEL_POLL_OK = 0x08      # status waiting / pollRep acceptable
SEL_NESTED = 0x10       # nested style: inner_nonce = DEV_NONCE
SEL_SUBJECT = 0x20      # the certificate's subject is checked too
SEL_PBMAC = 0x40        # upstream configured with the shared secret
SEL_REPROTECT = 0x80    # the target re-protects the (mutated) answer

# PKIBody choice numbers, PKIStatus, PKIFailureInfo bits
IP, CP, KUP, RP, PKICONF, NESTED, ERROR, POLLREP = 1, 3, 8, 12, 19, 20, 23, 26
ACCEPTED, GRANTED_WITH_MODS, REJECTION, WAITING = 0, 1, 2, 3
BAD_REQUEST, BAD_POP, NOT_AUTHORIZED, SYSTEM_UNAVAIL = 2, 9, 23, 24

MSG_TIME = b"20261203120000Z"

# --------------------------------------------------------------------------
# DER


def tlv(tag, content):
    n = len(content)
    if n < 0x80:
        hdr = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        hdr = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + hdr + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def integer(v):
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big", signed=True))


def octets(b):
    return tlv(0x04, b)


def null():
    return b"\x05\x00"


def oid(dotted):
    arcs = [int(a) for a in dotted.split(".")]
    out = bytes([40 * arcs[0] + arcs[1]])
    for a in arcs[2:]:
        chunk = [a & 0x7F]
        a >>= 7
        while a:
            chunk.append(0x80 | (a & 0x7F))
            a >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def utf8(s):
    return tlv(0x0C, s.encode())


def bits(b, unused=0):
    return tlv(0x03, bytes([unused]) + b)


def exp(n, content):
    """[n] EXPLICIT (constructed, context-specific)"""
    return tlv(0xA0 | n, content)


def fail_info(*bitnos):
    """PKIFailureInfo: a named BIT STRING, trailing zero bits dropped (DER)"""
    top = max(bitnos)
    buf = bytearray(top // 8 + 1)
    for k in bitnos:
        buf[k // 8] |= 0x80 >> (k % 8)
    return bits(bytes(buf), 7 - top % 8)


def free_text(*texts):
    return seq(*[utf8(t) for t in texts])


# --------------------------------------------------------------------------
# key material

NOT_BEFORE = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def name(cn, org="cmpgw fuzz"):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(subject, key, issuer, issuer_key, serial, ca):
    b = (x509.CertificateBuilder()
         .subject_name(subject).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(
             digital_signature=not ca, content_commitment=False, key_encipherment=False,
             data_encipherment=False, key_agreement=False, key_cert_sign=ca,
             crl_sign=ca, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    if issuer_key is not key:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    return b.sign(issuer_key, None)


def write_pem(stem, cert=None, key=None):
    if cert is not None:
        with open(os.path.join(DATA, stem + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        with open(os.path.join(DATA, stem + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))


def new_keys():
    os.makedirs(DATA, exist_ok=True)
    k = {s: ed25519.Ed25519PrivateKey.generate()
         for s in ("root", "subca", "signer", "device", "other", "rogue")}
    root_n = name("cmpgw fuzz upstream root")
    subca_n = name("cmpgw fuzz upstream issuing CA")
    rogue_n = name("cmpgw fuzz rogue signer")
    root = make_cert(root_n, k["root"], root_n, k["root"], 1, True)
    subca = make_cert(subca_n, k["subca"], root_n, k["root"], 2, True)
    signer = make_cert(name("cmpgw fuzz upstream CMP"), k["signer"], root_n, k["root"], 3,
                       False)
    device = make_cert(name("fuzz-device-0001", "cmpgw fuzz devices"), k["device"], subca_n,
                       k["subca"], 4, False)
    other = make_cert(name("fuzz-device-0002", "cmpgw fuzz devices"), k["other"], subca_n,
                      k["subca"], 5, False)
    rogue = make_cert(rogue_n, k["rogue"], rogue_n, k["rogue"], 6, False)
    write_pem("root", root, k["root"])
    write_pem("subca", subca, k["subca"])
    write_pem("signer", signer, k["signer"])
    write_pem("device", device, k["device"])
    write_pem("other", other)
    write_pem("rogue", rogue, k["rogue"])
    with open(os.path.join(DATA, "upstream.secret"), "w") as f:
        f.write("fuzz-upstream-shared-secret\n")


def load():
    m = {}
    for stem in ("root", "subca", "signer", "device", "other", "rogue"):
        with open(os.path.join(DATA, stem + ".pem"), "rb") as f:
            m[stem] = x509.load_pem_x509_certificate(f.read()).public_bytes(
                serialization.Encoding.DER)
        path = os.path.join(DATA, stem + ".key")
        if os.path.exists(path):
            with open(path, "rb") as f:
                m[stem + "_key"] = serialization.load_pem_private_key(f.read(), None)
    with open(os.path.join(DATA, "upstream.secret"), "rb") as f:
        m["secret"] = f.read().split(b"\n")[0]
    return m


# --------------------------------------------------------------------------
# CMP messages (RFC 4210/9810 5.1, EXPLICIT TAGS)

ED25519 = seq(oid("1.3.101.112"))
RA_NAME = name("cmpgw fuzz RA").public_bytes()


def cert_name(der):
    return x509.load_der_x509_certificate(der).subject.public_bytes()


def header(km, alg, tid=TID, recip_nonce=OUR_NONCE, sender_nonce=b"\x44" * 16,
           implicit=False, signer="signer"):
    fields = [integer(2),
              tlv(0xA4, cert_name(km[signer])),  # directoryName [4], explicit: Name
              tlv(0xA4, RA_NAME),
              exp(0, tlv(0x18, MSG_TIME)),
              exp(1, alg),
              exp(4, octets(tid)),
              exp(5, octets(sender_nonce))]
    if recip_nonce is not None:
        fields.append(exp(6, octets(recip_nonce)))
    if implicit:  # RFC 4210 5.1.1.1 id-it-implicitConfirm
        fields.append(exp(8, seq(seq(oid("1.3.6.1.5.5.7.4.13"), null()))))
    return seq(*fields)


def signed(km, body, signer="signer", extra=("signer", "root"), **hdr):
    h = header(km, ED25519, signer=signer, **hdr)
    sig = km[signer + "_key"].sign(seq(h, body))
    return seq(h, body, exp(0, bits(sig)), exp(1, seq(*[km[c] for c in extra])))


def pbmac(km, body, iterations=1000, salt=b"fuzz-salt-000001", **hdr):
    """RFC 4210 5.1.3.1 PasswordBasedMac: SHA-256 owf, HMAC-SHA256"""
    param = seq(octets(salt), seq(oid("2.16.840.1.101.3.4.2.1")), integer(iterations),
                seq(oid("1.2.840.113549.2.9"), null()))
    h = header(km, seq(oid("1.2.840.113533.7.66.13"), param), **hdr)
    key = hashlib.sha256(km["secret"] + salt).digest()
    for _ in range(iterations - 1):
        key = hashlib.sha256(key).digest()
    mac = hmac.new(key, seq(h, body), hashlib.sha256).digest()
    return seq(h, body, exp(0, bits(mac)))


def status(st, texts=(), fails=()):
    parts = [integer(st)]
    if texts:
        parts.append(free_text(*texts))
    if fails:
        parts.append(fail_info(*fails))
    return seq(*parts)


def certrep(kind, km, st=ACCEPTED, cert="device", capubs=(), req_id=0, texts=(), fails=(),
            extra_responses=0):
    resp = [integer(req_id), status(st, texts, fails)]
    if cert is not None and st in (ACCEPTED, GRANTED_WITH_MODS):
        resp.append(seq(exp(0, km[cert])))  # CertifiedKeyPair { certificate [0] }
    responses = [seq(*resp)] * (1 + extra_responses)
    parts = []
    if capubs:
        parts.append(exp(1, seq(*[km[c] for c in capubs])))
    parts.append(seq(*responses))
    return exp(kind, seq(*parts))


def error_body(st=REJECTION, texts=("request refused by the upstream CA",),
               fails=(BAD_REQUEST,)):
    return exp(ERROR, seq(status(st, texts, fails), integer(4711),
                          free_text("policy says no")))


def pollrep_body(after=5, req_id=0, count=1):
    return exp(POLLREP, seq(*[seq(integer(req_id), integer(after),
                                  free_text("the CA officer is at lunch"))] * count))


def rp_body(st=ACCEPTED, fails=(), count=1):
    return exp(RP, seq(seq(*[status(st, (), fails)] * count)))


def pkiconf_body():
    return exp(PKICONF, null())


def nested_body(*msgs):
    return exp(NESTED, seq(*msgs))


# --------------------------------------------------------------------------
# seeds


def seeds(km):
    s = {}
    full = WANT_IP | SEL_POLL_OK | SEL_SUBJECT
    chain = ("signer", "root", "subca")
    # certificate answers that verify to the end (v->cert set)
    s["ip_accepted"] = (full, signed(km, certrep(IP, km), extra=chain, implicit=True))
    s["ip_capubs"] = (full, signed(km, certrep(IP, km, capubs=("subca", "root"))))
    s["cp_accepted"] = (WANT_CP | SEL_SUBJECT,
                        signed(km, certrep(CP, km, st=GRANTED_WITH_MODS), extra=chain))
    s["kup_accepted"] = (WANT_KUP, signed(km, certrep(KUP, km), extra=chain))
    s["ip_pbmac"] = (full | SEL_PBMAC, pbmac(km, certrep(IP, km, capubs=("subca",))))
    # certificate answers refused by our checks
    s["ip_other_key"] = (full, signed(km, certrep(IP, km, cert="other"), extra=chain))
    s["ip_no_chain"] = (full, signed(km, certrep(IP, km)))
    s["ip_two_responses"] = (full, signed(km, certrep(IP, km, extra_responses=1),
                                          extra=chain))
    s["ip_req_id_1"] = (full, signed(km, certrep(IP, km, req_id=1), extra=chain))
    s["ip_no_cert"] = (full, signed(km, certrep(IP, km, cert=None)))
    s["ip_waiting"] = (full, signed(km, certrep(IP, km, st=WAITING)))
    s["ip_waiting_nested"] = (WANT_IP | SEL_NESTED, signed(km, certrep(IP, km, st=WAITING)))
    s["ip_rejection"] = (full, signed(km, certrep(
        IP, km, st=REJECTION, texts=("bad proof of possession",), fails=(BAD_POP,))))
    s["cp_for_ip"] = (full, signed(km, certrep(CP, km), extra=chain))
    # other bodies
    s["error"] = (full, signed(km, error_body()))
    s["error_pbmac"] = (WANT_RP | SEL_PBMAC, pbmac(km, error_body(
        st=REJECTION, texts=("not authorized",), fails=(NOT_AUTHORIZED, SYSTEM_UNAVAIL))))
    s["pollrep"] = (full, signed(km, pollrep_body()))
    s["pollrep_late"] = (WANT_KUP | SEL_POLL_OK, signed(km, pollrep_body(after=3600)))
    s["pollrep_not_ok"] = (WANT_IP, signed(km, pollrep_body()))
    s["pollrep_two"] = (full, signed(km, pollrep_body(count=2)))
    s["rp_accepted"] = (WANT_RP, signed(km, rp_body()))
    s["rp_rejected"] = (WANT_RP, signed(km, rp_body(REJECTION, (BAD_REQUEST,))))
    s["rp_two"] = (WANT_RP, signed(km, rp_body(count=2)))
    s["pkiconf"] = (WANT_PKICONF, signed(km, pkiconf_body(), implicit=True))
    s["pkiconf_pbmac"] = (WANT_PKICONF | SEL_PBMAC, pbmac(km, pkiconf_body()))
    # nested style (RFC 9483 5.2.2.1): the inner answer echoes the
    # device's senderNonce; the outer one ours
    inner_ip = signed(km, certrep(IP, km), extra=chain, recip_nonce=DEV_NONCE,
                      sender_nonce=b"\x55" * 16)
    s["nested_ip"] = (full | SEL_NESTED, signed(km, nested_body(inner_ip)))
    s["nested_error"] = (WANT_CP | SEL_NESTED, signed(km, nested_body(signed(
        km, error_body(), recip_nonce=DEV_NONCE))))
    s["nested_two"] = (full | SEL_NESTED, signed(km, nested_body(inner_ip, inner_ip)))
    s["nested_inner_bad_nonce"] = (full | SEL_NESTED, signed(km, nested_body(signed(
        km, certrep(IP, km), extra=chain))))
    s["nested_not_expected"] = (full, signed(km, nested_body(inner_ip)))
    s["inner_direct"] = (full | SEL_NESTED, inner_ip)
    # protection, transaction and nonce failures
    s["rogue_signer"] = (full, signed(km, certrep(IP, km), signer="rogue",
                                      extra=("rogue", "subca")))
    s["no_extracerts"] = (full, signed(km, certrep(IP, km), extra=()))
    s["wrong_tid"] = (full, signed(km, certrep(IP, km), extra=chain, tid=b"\x99" * 16))
    s["no_recip_nonce"] = (full, signed(km, certrep(IP, km), extra=chain, recip_nonce=None))
    s["pbmac_unexpected"] = (full, pbmac(km, certrep(IP, km)))
    s["sig_but_pbmac"] = (full | SEL_PBMAC, signed(km, certrep(IP, km), extra=chain))
    # signed by the device's own key: its certificate chains to the same
    # anchors as the upstream's signer, but may not speak for the upstream
    # (upstream.signer pins signer.pem in the target): refused
    s["device_signed_rp"] = (WANT_RP, signed(km, rp_body(), signer="device",
                                             extra=("device", "subca")))
    s["device_signed_pkiconf"] = (WANT_PKICONF, signed(km, pkiconf_body(), signer="device",
                                                       extra=("device", "subca")))
    # the target re-protects these: their bodies are reached whatever the
    # mutation did to the protection
    s["reprotect_ip"] = (full | SEL_REPROTECT, signed(km, certrep(IP, km), extra=chain))
    s["reprotect_nested"] = (full | SEL_NESTED | SEL_REPROTECT,
                             signed(km, nested_body(inner_ip)))
    s["reprotect_pbmac_rp"] = (WANT_RP | SEL_PBMAC | SEL_REPROTECT, pbmac(km, rp_body(
        REJECTION, (BAD_REQUEST,))))
    # not (quite) a PKIMessage
    good = s["ip_accepted"][1]
    s["truncated_half"] = (full, good[: len(good) // 2])
    s["truncated_one"] = (full, good[:-1])
    s["trailing_byte"] = (full, good + b"\x00")
    s["garbage"] = (full, hashlib.sha256(b"garbage").digest() * 4)
    s["empty"] = (full, b"")
    return s


def main():
    if "--new-keys" in sys.argv[1:]:
        new_keys()
    km = load()
    os.makedirs(CORPUS, exist_ok=True)
    for f in os.listdir(CORPUS):
        if f.endswith(".bin"):
            os.unlink(os.path.join(CORPUS, f))
    for stem, (sel, der) in sorted(seeds(km).items()):
        with open(os.path.join(CORPUS, stem + ".bin"), "wb") as f:
            f.write(bytes([sel]) + der)
    print("wrote %d seeds to %s" % (len(seeds(km)), CORPUS))


if __name__ == "__main__":
    main()
