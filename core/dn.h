/*
 * core/dn.h - distinguished names from text: the subject templates of
 * profiles, the subjects `cmpgw init` writes, RA subjects in the config.
 */
#ifndef CMPGW_CORE_DN_H
#define CMPGW_CORE_DN_H

#include <openssl/x509.h>

/*
 * Parse a distinguished name into a new X509_NAME (caller frees with
 * X509_NAME_free), NULL if it does not parse (or on allocation failure).
 * Two forms:
 *  - RFC 4514 style "CN=a,O=b": comma-separated type=value, '+' joins a
 *    multi-valued RDN, backslash escapes the next character or a hex pair
 *    ("\2C"), spaces around types/values are dropped. As in RFC 4514 the
 *    string lists the RDNs last-first, so the DER order is O=b, CN=a.
 *  - OpenSSL style "/CN=a/O=b": slash-separated, in DER order.
 * Types are OpenSSL short/long names (case-insensitive) or dotted OIDs.
 * Values are encoded as OpenSSL's string table asks (PrintableString for C
 * and serialNumber, else UTF8String); a value the table refuses that holds
 * a "${" placeholder is kept as UTF8String so that templates such as
 * "CN=${serial}" parse, placeholders verbatim. At most 64 attributes, each
 * type under 64 and each value under 1024 bytes; empty values are refused.
 * Any thread.
 */
X509_NAME *dn_parse(const char *s);

#endif
