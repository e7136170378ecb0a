#!/bin/sh
# Regenerate the fixed configuration and the seed corpus of
# test/fuzz/fuzz_ra.c (the whole request handler on the in-memory store).
#
#   test/fuzz/make_ra_data.sh --new-keys [CMPREQ]   new key material, then seeds
#   test/fuzz/make_ra_data.sh [CMPREQ]              seeds only (keys as committed)
#
# CMPREQ is the test client (default build-t/test/client/cmpreq); the
# requests a device would send come from the stock `openssl cmp` client
# against its built-in mock server (-use_mock_srv: no network), written
# with -reqout, and from cmpreq for the bodies openssl cmp cannot send
# (error, nested, a PBMAC ir with our reference). Keys are test-only.
#
# Key material in test/fuzz/data/ra/ (P-256; fuzz_ra.c and
# test/unit/ra/fake_store.h name the same files and serials):
#   op-root      operator root (caPubs)
#   ca           issuing CA (signs what the gateway issues), under op-root
#   cmp          the gateway's CMP signer, under ca
#   vendor-root  vendor trust anchor; vendor-ca its device CA (intermediate)
#   dev-1..3     vendor device certificates, serialNumber FUZZ-0001..0003
#                (the fuzzer's store: 0001 allowed, 0002 blocked, 0003 unknown)
#   dev-noserial a vendor device certificate without serialNumber
#   ra           a downstream RA of alias "3gpp" (nested, RA-signed ir; the
#                device identity is the template's CN, ra_identity subject_cn)
#   rogue        a self-signed "device" nobody trusts
#   new          the key the devices ask to be certified
#   op-dev       an operator certificate for FUZZ-0001 (new key), issued by
#                ca: the certificate kur and rr refer to
#   tokens.key   32-byte token sealing key; token ref/secret below
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
D="$HERE/data/ra"
C="$HERE/corpus/ra"
NEW=0
if [ "${1:-}" = "--new-keys" ]; then NEW=1; shift; fi
CMPREQ=${1:-"$HERE/../../build-t/test/client/cmpreq"}
TOKEN_REF=00112233445566778899aabbccddeeff
TOKEN_SECRET=fuzz-token-secret-000001
mkdir -p "$D" "$C"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/$1.key" 2>/dev/null; chmod 600 "$D/$1.key"; }
# cert NAME SUBJECT ISSUER EXTS [DAYS]  (ISSUER "self" = self-signed)
cert() {
	n=$1 subj=$2 iss=$3 ext=$4
	printf '%s\n' "[x]" "subjectKeyIdentifier=hash" "$ext" >"$T/$n.ext"
	if [ "$iss" = self ]; then
		openssl req -new -x509 -key "$D/$n.key" -subj "$subj" -days 7300 -sha256 \
			-set_serial "0x$(openssl rand -hex 8)" -extensions x -config "$T/$n.ext" \
			-out "$D/$n.pem" 2>/dev/null
	else
		echo "authorityKeyIdentifier=keyid" >>"$T/$n.ext"
		openssl req -new -key "$D/$n.key" -subj "$subj" -out "$T/$n.csr" -config /dev/null 2>/dev/null ||
			openssl req -new -key "$D/$n.key" -subj "$subj" -out "$T/$n.csr"
		openssl x509 -req -in "$T/$n.csr" -CA "$D/$iss.pem" -CAkey "$D/$iss.key" -days 7300 -sha256 \
			-set_serial "0x$(openssl rand -hex 8)" -extfile "$T/$n.ext" -extensions x \
			-out "$D/$n.pem" 2>/dev/null
	fi
}
CA_EXT="basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign"
EE_EXT="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature"

if [ $NEW = 1 ]; then
	for k in op-root ca cmp vendor-root vendor-ca dev-1 dev-2 dev-3 rogue new; do key $k; done
	cert op-root "/O=cmpgw fuzz operator/CN=fuzz operator root" self "$CA_EXT"
	cert ca "/O=cmpgw fuzz operator/CN=fuzz issuing CA" op-root "$CA_EXT"
	cert cmp "/O=cmpgw fuzz operator/CN=fuzz CMP signer" ca "$EE_EXT
extendedKeyUsage=1.3.6.1.5.5.7.3.28"
	cert vendor-root "/O=Fuzzvendor/CN=Fuzzvendor Root CA" self "$CA_EXT"
	cert vendor-ca "/O=Fuzzvendor/CN=Fuzzvendor Device CA" vendor-root "$CA_EXT"
	for i in 1 2 3; do
		cert dev-$i "/serialNumber=FUZZ-000$i/O=Fuzzvendor/CN=Fuzzvendor Router" vendor-ca "$EE_EXT"
	done
	cert rogue "/serialNumber=FUZZ-0001/O=Fuzzvendor/CN=Rogue Router" self "$EE_EXT"
	# the operator certificate a device enrolled with (profile subject)
	cp "$D/new.key" "$D/op-dev.key"
	cert op-dev "/CN=FUZZ-0001/O=fuzzvendor/OU=Devices" ca "$EE_EXT
extendedKeyUsage=clientAuth,serverAuth"

	openssl rand 32 >"$D/tokens.key"
	chmod 600 "$D/tokens.key"
fi
# added later (kept when the others exist): a vendor device certificate
# without serialNumber in its subject
if [ ! -f "$D/dev-noserial.pem" ]; then
	key dev-noserial
	cert dev-noserial "/O=Fuzzvendor/CN=Fuzzvendor Router" vendor-ca "$EE_EXT"
fi
# a downstream RA (aliases[0].ras in cmpgw.json), issued by the issuing CA
if [ ! -f "$D/ra.pem" ]; then
	key ra
	cert ra "/O=cmpgw fuzz operator/CN=fuzz downstream RA" ca "$EE_EXT
extendedKeyUsage=1.3.6.1.5.5.7.3.28"
fi

# ---- seeds: what a device sends (corpus/ra/) ----
[ -x "$CMPREQ" ] || { echo "make_ra_data.sh: no cmpreq at $CMPREQ (build it, or name it)" >&2; exit 1; }
rm -f "$C"/*
cd "$D"
MOCK="-use_mock_srv -srv_cert cmp.pem -srv_key cmp.key -srv_trusted vendor-root.pem,op-root.pem
 -srv_untrusted vendor-ca.pem,ca.pem
 -rsp_cert op-dev.pem -rsp_capubs op-root.pem -trusted op-root.pem -untrusted ca.pem"
ocmp() { openssl cmp $MOCK -certout "$T/out.pem" "$@" >"$T/log" 2>&1 || { cat "$T/log" >&2; exit 1; }; }
# openssl cmp: ir + certConf, implicitConfirm ir, cr, kur + certConf, p10cr,
# genm, rr, and an ir answered "waiting" then polled (pollReq)
ocmp -cmd ir -cert dev-1.pem -key dev-1.key -extracerts vendor-ca.pem -newkey new.key \
	-subject /CN=FUZZ-0001 -reqout "$C/ir_openssl.der,$C/certconf_openssl.der"
ocmp -cmd ir -implicit_confirm -cert dev-1.pem -key dev-1.key -extracerts vendor-ca.pem \
	-newkey new.key -reqout "$C/ir_implicit_openssl.der"
ocmp -cmd cr -cert dev-1.pem -key dev-1.key -extracerts vendor-ca.pem -newkey new.key \
	-reqout "$C/cr_openssl.der,$C/certconf_cr_openssl.der"
ocmp -cmd kur -cert op-dev.pem -key op-dev.key -newkey new.key \
	-reqout "$C/kur_openssl.der,$C/certconf_kur_openssl.der"
# the mock's certificate is not for the key asked: the client rejects it
# in its certConf (and fails)
openssl cmp $MOCK -certout "$T/out.pem" -cmd kur -cert op-dev.pem -key op-dev.key \
	-newkey dev-1.key -reqout "$T/kur_x.der,$C/certconf_reject_openssl.der" >/dev/null 2>&1 || :
openssl req -new -key new.key -subj /CN=FUZZ-0001 -out "$T/p10.csr"
ocmp -cmd p10cr -cert dev-1.pem -key dev-1.key -extracerts vendor-ca.pem -csr "$T/p10.csr" \
	-reqout "$C/p10cr_openssl.der,$C/certconf_p10cr_openssl.der"
ocmp -cmd genm -cert dev-1.pem -key dev-1.key -extracerts vendor-ca.pem -reqout "$C/genm_openssl.der"
ocmp -cmd rr -cert op-dev.pem -key op-dev.key -oldcert op-dev.pem -revreason 1 \
	-reqout "$C/rr_openssl.der"
ocmp -cmd ir -poll_count 1 -check_after 0 -cert dev-1.pem -key dev-1.key \
	-extracerts vendor-ca.pem -newkey new.key \
	-reqout "$C/ir_poll_openssl.der,$C/pollreq_openssl.der,$C/certconf_poll_openssl.der"
# cmpreq: chosen transactionIDs (test/unit/ra reads these), the bodies and
# faults openssl cmp cannot send
Q() { "$CMPREQ" "$@" >"$T/log" 2>&1 || { cat "$T/log" >&2; exit 1; }; }
DEV1="--cert dev-1.pem --key dev-1.key --extracerts vendor-ca.pem --newkey new.key"
Q ir $DEV1 --tid 01010101010101010101010101010101 --out "$C/ir_dev1.der"
Q ir $DEV1 --tid 01010101010101010101010101010102 --implicit --out "$C/ir_dev1_implicit.der"
Q cr $DEV1 --tid 01010101010101010101010101010103 --out "$C/cr_dev1.der"
Q ir $DEV1 --tid 01010101010101010101010101010104 --bad-pop --out "$C/ir_bad_pop.der"
Q ir --cert dev-2.pem --key dev-2.key --extracerts vendor-ca.pem --newkey new.key \
	--tid 02020202020202020202020202020202 --out "$C/ir_dev2.der"
Q ir --cert dev-3.pem --key dev-3.key --extracerts vendor-ca.pem --newkey new.key \
	--tid 03030303030303030303030303030303 --out "$C/ir_dev3.der"
Q ir --cert dev-noserial.pem --key dev-noserial.key --extracerts vendor-ca.pem --newkey new.key \
	--tid 03030303030303030303030303030304 --out "$C/ir_noserial.der"
Q ir --cert rogue.pem --key rogue.key --newkey new.key \
	--tid 04040404040404040404040404040404 --out "$C/ir_rogue.der"
Q ir $DEV1 --tid 05050505050505050505050505050505 --pvno 1 --out "$C/ir_pvno1.der"
Q kur --cert op-dev.pem --key op-dev.key --newkey dev-1.key \
	--tid 06060606060606060606060606060606 --out "$C/kur_opdev.der"
Q kur --cert op-dev.pem --key op-dev.key --newkey dev-1.key --no-oldcertid \
	--tid 06060606060606060606060606060607 --out "$C/kur_no_oldcertid.der"
Q kur --cert dev-1.pem --key dev-1.key --extracerts vendor-ca.pem --newkey new.key \
	--tid 06060606060606060606060606060608 --out "$C/kur_vendor.der"
Q p10cr --cert dev-1.pem --key dev-1.key --csr "$T/p10.csr" --out "$C/p10cr_dev1.der"
Q error --cert dev-1.pem --key dev-1.key --tid 07070707070707070707070707070707 --out "$C/error_dev1.der"
Q p10cr --cert op-dev.pem --key op-dev.key --csr "$T/p10.csr" --out "$C/p10cr_opdev.der"
Q nested --cert ra.pem --key ra.key --in "$C/ir_dev1.der" --out "$C/nested_ir.der"
Q ir --cert ra.pem --key ra.key --newkey new.key --subject FUZZ-0009 \
	--tid 09090909090909090909090909090909 --out "$C/ir_ra.der"
Q ir --cert ra.pem --key ra.key --newkey new.key \
	--tid 0909090909090909090909090909090a --out "$C/ir_ra_nosubject.der"
Q ir --ref $TOKEN_REF --secret $TOKEN_SECRET --newkey new.key \
	--tid 08080808080808080808080808080808 --out "$C/ir_pbm.der"
Q ir --ref $TOKEN_REF --secret wrong-secret-00000000000 --newkey new.key \
	--tid 08080808080808080808080808080809 --out "$C/ir_pbm_wrong_secret.der"
# broken: truncated, a flipped signature byte, garbage, empty
head -c 200 "$C/ir_dev1.der" >"$C/broken_truncated.der"
python3 - "$C/ir_dev1.der" "$C/broken_bad_signature.der" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-10] ^= 0x01  # near the end: the signature of the last extraCerts certificate
open(sys.argv[2], "wb").write(bytes(b))
PY
printf 'POST / HTTP/1.1\r\n\r\nnot a PKIMessage' >"$C/broken_garbage.der"
: >"$C/broken_empty.der"
echo "make_ra_data.sh: $(ls "$C" | wc -l) seeds in $C"
