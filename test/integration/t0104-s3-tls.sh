#!/usr/bin/env bash
# t0104: S3 over TLS against s3rver with a self-signed certificate: trusted
# through http_config.tls_config.ca_file, refused without it (a clear
# error), accepted with insecure_skip_verify.
. "$(dirname "$0")/test-lib.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/key.pem" \
  -out "$TMP/cert.pem" >/dev/null 2>&1
port=$(free_port)
mkdir -p "$TMP/s3rver"
NODE_OPTIONS=--openssl-legacy-provider start_bg s3rver "$S3RVER" -d "$TMP/s3rver" \
  -a 127.0.0.1 -p "$port" --silent --key "$TMP/key.pem" --cert "$TMP/cert.pem" \
  --configure-bucket test
wait_port "$port"

cfg() {
  printf 'type: S3\nconfig:\n  bucket: test\n  endpoint: 127.0.0.1:%s\n  region: us-east-1\n  access_key: S3RVER\n  secret_key: S3RVER\n' "$port"
  local l; for l in "$@"; do printf '  %s\n' "$l"; done
}
head -c 3000000 /dev/urandom >"$TMP/obj"
ca=("http_config:" "  tls_config:" "    ca_file: $TMP/cert.pem")

expect "tls: acceptance suite with the CA from ca_file" \
  "$THANOSC" tools bucket acceptance --objstore.config="$(cfg "${ca[@]}")" --big=6MiB --many=20
expect "tls: upload with ca_file" \
  "$THANOSC" tools bucket put --objstore.config="$(cfg "${ca[@]}")" o "$TMP/obj"
"$THANOSC" tools bucket get --objstore.config="$(cfg "${ca[@]}")" o >"$TMP/got"
expect "tls: read back equals the upload" cmp "$TMP/obj" "$TMP/got"
out=$("$THANOSC" tools bucket get --objstore.config="$(cfg "max_retries: 1")" o 2>&1 >/dev/null)
expect_eq "tls: an unknown CA is refused with a certificate error" \
  "$(echo "$out" | grep -ci "certificate")" 1
expect "tls: insecure_skip_verify accepts it" \
  "$THANOSC" tools bucket get --objstore.config="$(cfg "http_config:" "  insecure_skip_verify: true")" o

done_testing
