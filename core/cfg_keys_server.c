/*
 * core/cfg_keys_server.c - the config keys of the process: log, listen,
 * workers, http, data_dir, database, sweep_interval_s, limits (see
 * core/cfg_int.h; never calls into core/cfg.c).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/cfg_int.h"
#include "core/file.h"
#include "core/log.h"

/* ---- converters ---- */

static int conv_level(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	int lvl = log_level_parse(json_string_value(v));

	if (lvl < 0)
		return cfg_fail(ld, jp, "must be one of error, warn, info, debug");
	*(int *)field = lvl;
	return 0;
}

static int conv_format(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);

	if (strcmp(s, "text") != 0 && strcmp(s, "json") != 0)
		return cfg_fail(ld, jp, "must be \"text\" or \"json\"");
	*(bool *)field = strcmp(s, "json") == 0;
	return 0;
}

static int conv_address(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);
	unsigned char buf[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1)
		return cfg_fail(ld, jp, "\"%s\" is not an IPv4 or IPv6 address", s);
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

static int conv_client_auth(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	static const char *const names[] = { "none", "optional", "require" };
	const char *s = json_string_value(v);

	for (int i = 0; i < 3; i++)
		if (strcmp(s, names[i]) == 0) {
			*(int *)field = i; /* enum cfg_client_auth */
			return 0;
		}
	return cfg_fail(ld, jp, "must be \"none\", \"optional\" or \"require\"");
}

/* The URL is a secret: read it from a private file, never echo it. */
static int conv_url_file(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	char *path = NULL, line[4096], msg[PATH_MAX + 128];
	int rc;

	if (json_is_null(v))
		return 0;
	if (*(char **)field)
		return cfg_fail(ld, jp, "cannot be used together with database.url");
	if (!(path = cfg_resolve(ld->cfg, json_string_value(v))))
		return RC_NOMEM;
	if (file_read_private_line(path, line, sizeof(line), msg, sizeof(msg)) != 0)
		rc = cfg_fail(ld, jp, "%s", msg);
	else
		rc = (*(char **)field = strdup(line)) ? 0 : RC_NOMEM;
	OPENSSL_cleanse(line, sizeof(line));
	free(path);
	return rc;
}

/* admin.principals[].role: operator, auditor, vendor:NAME, factory:NAME
 * (NAME 1..128 printable characters, no space; whether the vendor exists
 * is checked at request time). */
static int conv_role(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v), *name = NULL;
	size_t n;

	if (strcmp(s, "operator") == 0 || strcmp(s, "auditor") == 0)
		return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
	if (strncmp(s, "vendor:", 7) == 0)
		name = s + 7;
	else if (strncmp(s, "factory:", 8) == 0)
		name = s + 8;
	if (!name)
		return cfg_fail(ld, jp, "must be operator, auditor, vendor:NAME or factory:NAME");
	n = strnlen(name, 129);
	if (n < 1 || n > 128)
		return cfg_fail(ld, jp, "the vendor name must have 1..128 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e)
			return cfg_fail(ld, jp, "the vendor name must be printable, without space");
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

/* admin.principals[].subject: an RFC 2253 pattern, 1..1024 printable
 * characters. */
static int conv_subject_pattern(struct cfg_ld *ld, const char *jp, json_t *v, void *field)
{
	const char *s = json_string_value(v);
	size_t n;

	if (!s)
		return 0;
	n = strnlen(s, 1025);
	if (n < 1 || n > 1024)
		return cfg_fail(ld, jp, "must have 1..1024 characters");
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return cfg_fail(ld, jp, "must not contain control characters");
	return (*(char **)field = strdup(s)) ? 0 : RC_NOMEM;
}

/* ---- the keys ---- */

// clang-format off
static const struct cfg_key log_keys[] = {
	{"log", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "Logging."},
	{"log.level", K_STR, R(log_level), "\"info\"", 0, 0, conv_level,
	 "Least severe level logged: `error`, `warn`, `info` or `debug`."},
	{"log.format", K_STR, R(log_json), "\"text\"", 0, 0, conv_format,
	 "`text` (one human line per event) or `json` (one JSON object per line)."},
	{"log.access", K_BOOL, R(log_access), "true", 0, 0, NULL,
	 "One JSON access line per CMP request (alias, body type, outcome, failInfo, latency, "
	 "transactionID, serial of an issued certificate), whatever `format` is."},
};
const struct cfg_keys cfg_keys_log = CFG_KEYS(log_keys);

static const struct cfg_key listen_keys[] = {
	{"listen", K_LIST, S_LISTEN, 0, NULL, 1, 16, NULL, "HTTP listeners, 1 to 16 entries."},
	{"listen[].address", K_STR, L(address), "\"127.0.0.1\"", 0, 0, conv_address,
	 "IPv4 or IPv6 address to bind (`0.0.0.0`, `::` for all)."},
	{"listen[].port", K_INT, L(port), NULL, 1, 65535, NULL, "TCP port, 1..65535."},
	{"listen[].tls", K_OBJ, S_LISTEN, 0, "{}", 0, 0, NULL,
	 "CMP over HTTPS on this listener (RFC 9811 3.6), TLS 1.2 and 1.3 only; on when `cert` is "
	 "set."},
	{"listen[].tls.cert", K_STR_NULL, L(tls.cert_file), "null", 0, 0, cfg_conv_file,
	 "PEM file: the server certificate, then its chain; null = plain HTTP."},
	{"listen[].tls.key", K_STR_NULL, L(tls.key_file), "null", 0, 0, cfg_conv_key,
	 "Its private key: a PEM file (mode 0600 or stricter) or a `pkcs11:` URI; required with "
	 "`cert`, must match it."},
	{"listen[].tls.client_ca", K_STR_NULL, L(tls.ca_file), "null", 0, 0, cfg_conv_file,
	 "PEM file with the trust anchors client certificates must chain to (any certificate in it "
	 "ends a chain); needs `client_auth` `optional` or `require`; null = no client certificates "
	 "are asked for."},
	{"listen[].tls.client_auth", K_STR, L(tls.client_auth), "\"none\"", 0, 0, conv_client_auth,
	 "`none`, `optional` (a client certificate, if sent, must verify) or `require` (mutual "
	 "TLS: a handshake without a valid client certificate fails); the latter two need "
	 "`client_ca`."},
	{"listen[].tls.min_version", K_STR, L(tls.min_version), "\"1.2\"", 0, 0, cfg_conv_tls_version,
	 "Lowest TLS version accepted: `1.2` or `1.3`."},
};
const struct cfg_keys cfg_keys_listen = CFG_KEYS(listen_keys);

static const struct cfg_key workers_keys[] = {
	{"workers", K_INT, R(workers), "0", 0, 256, NULL,
	 "Worker threads (one event loop each); 0 = number of online CPUs. Max 256."},
};
const struct cfg_keys cfg_keys_workers = CFG_KEYS(workers_keys);

static const struct cfg_key http_keys[] = {
	{"http", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "HTTP transport limits."},
	{"http.max_body", K_SIZE, R(http_max_body), "65536", 1024, 16777216, NULL,
	 "Largest accepted request body in bytes (1024..16777216); larger gets 413."},
	{"http.timeout_s", K_INT, R(http_timeout_s), "30", 1, 3600, NULL,
	 "Read/idle timeout per connection in seconds (1..3600)."},
	{"http.read_deadline_s", K_INT, R(http_read_deadline_s), "30", 1, 3600, NULL,
	 "A request's headers and body must arrive within this many seconds of its first byte, "
	 "however slowly they trickle in (1..3600); then 408 and the connection is closed."},
	{"http.max_connections", K_INT, R(http_max_conns), "1024", 1, 65536, NULL,
	 "Open connections per worker (1..65536); above it a new connection gets 503 and is "
	 "closed (a TLS connection is closed without an answer)."},
	{"http.max_body_memory", K_SIZE, R(http_max_body_mem), "16777216", 65536, 1073741824, NULL,
	 "Bytes of request bodies being received that one worker holds at most (65536..1073741824); "
	 "a request that would exceed it gets 503."},
	{"http.drain_s", K_INT, R(drain_s), "10", 0, 300, NULL,
	 "On SIGTERM or SIGINT: new connections and requests get 503 with `Connection: close`, "
	 "except the certConf or pollReq of a transaction whose last answer went over that "
	 "connection; requests in flight and such open transactions may finish for at most this "
	 "many seconds (0..300), then the gateway stops."},
};
const struct cfg_keys cfg_keys_http = CFG_KEYS(http_keys);

static const struct cfg_key data_dir_keys[] = {
	{"data_dir", K_STR, R(data_dir), NULL, 0, 0, cfg_conv_dir,
	 "State directory (embedded PostgreSQL lives under it); relative to the config file's directory."},
};
const struct cfg_keys cfg_keys_data_dir = CFG_KEYS(data_dir_keys);

static const struct cfg_key database_keys[] = {
	{"database", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL, "PostgreSQL."},
	{"database.url", K_STR_NULL, R(db_url), "null", 0, 0, NULL,
	 "libpq connection URI of an external PostgreSQL; null = embedded server under `data_dir`. "
	 "The environment variable `CMPGW_DATABASE_URL` overrides it. Never logged."},
	{"database.url_file", K_STR_NULL, R(db_url), "null", 0, 0, conv_url_file,
	 "File holding the connection URI (first line), instead of `url`; mode 0600 or stricter."},
	{"database.embedded_user", K_STR, R(db_embedded_user), "\"postgres\"", 0, 0, NULL,
	 "Unprivileged OS user the embedded PostgreSQL runs as when cmpgw runs as root."},
	{"database.pool", K_INT, R(db_pool), "2", 1, 64, NULL, "Connections per worker (1..64)."},
	{"database.queue_wait_ms", K_INT, R(db_queue_wait_ms), "2000", 50, 60000, NULL,
	 "Longest a query waits for a database connection (while the database is down, or every "
	 "connection is busy), in milliseconds (50..60000); then the request is answered "
	 "`systemUnavail`."},
	{"database.statement_timeout_ms", K_INT, R(db_stmt_timeout_ms), "5000", 100, 600000, NULL,
	 "PostgreSQL `statement_timeout` of the gateway's statements, in milliseconds "
	 "(100..600000): a statement stalled longer (a held lock, a stalled server) is cancelled "
	 "and the request answered `systemUnavail`."},
	{"database.startup_timeout_s", K_INT, R(db_startup_timeout_s), "60", 0, 86400, NULL,
	 "`serve` keeps retrying an unreachable database at start, with backoff, for this many "
	 "seconds (0..86400; 0 = forever), then exits 1 naming the database error."},
};
const struct cfg_keys cfg_keys_database = CFG_KEYS(database_keys);

static const struct cfg_key sweep_keys[] = {
	{"sweep_interval_s", K_INT, R(sweep_interval_s), "10", 1, 3600, NULL,
	 "Period of the unconfirmed-certificate sweep in seconds (1..3600)."},
};
const struct cfg_keys cfg_keys_sweep = CFG_KEYS(sweep_keys);

static const struct cfg_key limits_keys[] = {
	{"limits", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "What a request may cost before it is authenticated."},
	{"limits.max_extra_certs", K_INT, R(max_extra_certs), "10", 1, 64, NULL,
	 "Most certificates a request may carry in extraCerts (1..64); more is refused "
	 "(`badRequest`) before any chain building."},
	{"limits.mac_failures_per_minute", K_INT, R(mac_fail_per_min), "10", 1, 100000, NULL,
	 "Failed PasswordBasedMac checks allowed per minute for one peer address and for one "
	 "token reference (each counted separately); past it, MAC-protected requests from that "
	 "peer or for that reference are refused (`notAuthorized`, \"too many failed MAC "
	 "attempts; retry later\") without any key derivation. Counted per worker thread (see "
	 "`workers`): with N workers a client may get up to N times the limit. Each counter table "
	 "holds at most 4096 peers or references (the oldest evicted)."},
	{"limits.audit_unauthenticated_per_minute", K_INT, R(audit_unauth_per_min), "60", 1,
	 100000, NULL,
	 "Audit rows written per minute and peer address for requests refused before they were "
	 "authenticated; the rest are counted: one `audit_suppressed` row when a peer first goes "
	 "over in its minute, and one \"N rows suppressed for peer X\" when that minute ends. "
	 "Counted per worker thread, like `limits.mac_failures_per_minute`."},
};
const struct cfg_keys cfg_keys_limits = CFG_KEYS(limits_keys);

static const struct cfg_key ops_keys[] = {
	{"ops", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "Operations listener, plain HTTP: `GET /metrics` (Prometheus text format), `/healthz`, "
	 "`/readyz`. Keep it on loopback or a management network."},
	{"ops.address", K_STR, R(ops_address), "\"127.0.0.1\"", 0, 0, conv_address,
	 "IPv4 or IPv6 address to bind."},
	{"ops.port", K_INT, R(ops_port), "0", 0, 65535, NULL,
	 "TCP port (1..65535); 0 = no operations listener. Must differ from every `listen` "
	 "entry."},
};
const struct cfg_keys cfg_keys_ops = CFG_KEYS(ops_keys);

static const struct cfg_key admin_keys[] = {
	{"admin", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "Admin HTTPS API (`/api/v1/...`, docs/ADMIN.md): HTTPS only, authenticated by a mapped "
	 "client certificate or a bearer API key."},
	{"admin.address", K_STR, R(admin_address), "\"127.0.0.1\"", 0, 0, conv_address,
	 "IPv4 or IPv6 address to bind."},
	{"admin.port", K_INT, R(admin_port), "0", 0, 65535, NULL,
	 "TCP port (1..65535); 0 = no admin listener. Must differ from every `listen` entry and "
	 "from `ops.port`; needs `admin.tls.cert` and `admin.tls.key`."},
	{"admin.tls", K_OBJ, S_ROOT, 0, "{}", 0, 0, NULL,
	 "TLS of the admin listener (mandatory when `admin.port` is set), TLS 1.2 and 1.3 only."},
	{"admin.tls.cert", K_STR_NULL, R(admin_tls.cert_file), "null", 0, 0, cfg_conv_file,
	 "PEM file: the server certificate, then its chain."},
	{"admin.tls.key", K_STR_NULL, R(admin_tls.key_file), "null", 0, 0, cfg_conv_key,
	 "Its private key: a PEM file (mode 0600 or stricter) or a `pkcs11:` URI; must match "
	 "`cert`."},
	{"admin.tls.client_ca", K_STR_NULL, R(admin_tls.ca_file), "null", 0, 0, cfg_conv_file,
	 "PEM file with the anchors client certificates must chain to; when set, a client "
	 "certificate is asked for (optional: a client without one may use an API key) and, if "
	 "sent, must verify. null = API keys only."},
	{"admin.tls.min_version", K_STR, R(admin_tls.min_version), "\"1.2\"", 0, 0,
	 cfg_conv_tls_version, "Lowest TLS version accepted: `1.2` or `1.3`."},
	{"admin.key_failures_per_minute", K_INT, R(admin_key_fail_per_min), "10", 1, 100000, NULL,
	 "Refused API keys (unknown, wrong secret, revoked, expired) allowed per minute and peer "
	 "address; past it, that peer's bearer keys get 429 without any database query until "
	 "its minute ends. Counted per worker thread, like `limits.mac_failures_per_minute`."},
	{"admin.principals", K_LIST, S_PRINCIPAL, 0, "[]", 0, 256, NULL,
	 "Client certificates mapped to a role, 0 to 256 entries, tried in order (the first match "
	 "wins): `{\"cert\": FILE, \"role\": R}` or `{\"issuer\": FILE, \"subject\": PATTERN, "
	 "\"role\": R}`."},
	{"admin.principals[].cert", K_STR_NULL, PR(cert_file), "null", 0, 0, cfg_conv_file,
	 "PEM file: exactly this client certificate."},
	{"admin.principals[].issuer", K_STR_NULL, PR(issuer_file), "null", 0, 0, cfg_conv_file,
	 "PEM file: the CA certificate that issued the client certificate (with `subject`)."},
	{"admin.principals[].subject", K_STR_NULL, PR(subject), "null", 0, 0, conv_subject_pattern,
	 "The client certificate's subject in RFC 2253 form (`openssl x509 -nameopt RFC2253`), "
	 "exact or with `*` matching any run of characters; required with `issuer`."},
	{"admin.principals[].role", K_STR, PR(role), NULL, 0, 0, conv_role,
	 "`operator`, `auditor`, `vendor:NAME` or `factory:NAME`."},
};
const struct cfg_keys cfg_keys_admin = CFG_KEYS(admin_keys);
// clang-format on
