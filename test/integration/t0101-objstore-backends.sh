#!/usr/bin/env bash
# t0101: the objstore acceptance suite against FILESYSTEM and against S3
# (a real s3rver on loopback), plus `tools bucket ls`, metrics, credentials
# from the environment and a credentials file, and clear S3 errors.
. "$(dirname "$0")/test-lib.sh"

tb() { "$THANOSC" tools bucket "$@"; }

# --- FILESYSTEM ------------------------------------------------------------
fscfg="type: FILESYSTEM
config:
  directory: $TMP/fs"
expect "filesystem: acceptance suite" tb acceptance --objstore.config="$fscfg" --big=6MiB --many=300

# --- S3 on s3rver ------------------------------------------------------------
port=$(free_port)
mkdir -p "$TMP/s3rver"
# s3rver's v2 continuation tokens use a cipher newer OpenSSL hides.
NODE_OPTIONS=--openssl-legacy-provider start_bg s3rver "$S3RVER" -d "$TMP/s3rver" \
  -a 127.0.0.1 -p "$port" --silent --configure-bucket test --configure-bucket other
wait_port "$port"

s3cfg() { # s3cfg [extra yaml lines...]
  printf 'type: S3\nconfig:\n  bucket: test\n  endpoint: 127.0.0.1:%s\n  insecure: true\n' "$port"
  local l; for l in "$@"; do printf '  %s\n' "$l"; done
}
keys=("access_key: S3RVER" "secret_key: S3RVER")

expect "s3: acceptance suite (list v2, single puts)" \
  tb acceptance --objstore.config="$(s3cfg "${keys[@]}" "region: us-east-1")" --big=6MiB --many=1100
expect "s3: acceptance suite (list v1, multipart, content md5, region lookup)" \
  tb acceptance --objstore.config="$(s3cfg "${keys[@]}" "list_objects_version: v1" \
    "part_size: 5242880" "send_content_md5: true")" --big=12MiB --many=1050
expect "s3: acceptance suite under a prefix, path lookup" \
  tb acceptance --objstore.config="$(s3cfg "${keys[@]}" "bucket_lookup_type: path")
prefix: some/prefix" --big=1MiB --many=0

# Credentials from ${VAR}, the environment and a credentials file.
head -c 100000 /dev/urandom >"$TMP/obj"
export TC_AK=S3RVER TC_SK=S3RVER
expect "s3: keys from \${VAR} in the yaml" \
  tb put --objstore.config="$(s3cfg 'access_key: ${TC_AK}' 'secret_key: $(TC_SK)')" env/obj "$TMP/obj"
out=$(tb put --objstore.config="$(s3cfg 'access_key: ${TC_UNSET_AK}' 'secret_key: x')" a "$TMP/obj" 2>&1)
expect_eq "s3: an unset variable is an error naming it" \
  "$(echo "$out" | grep -c "TC_UNSET_AK")" 1
expect "s3: keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" \
  env AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
  "$THANOSC" tools bucket get --objstore.config="$(s3cfg)" env/obj
printf '[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[tc]\naws_access_key_id = S3RVER\naws_secret_access_key = S3RVER\n' >"$TMP/creds"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$TMP/creds" AWS_PROFILE=tc \
  "$THANOSC" tools bucket get --objstore.config="$(s3cfg)" env/obj >"$TMP/got"
expect "s3: object read back with file credentials equals the upload" cmp "$TMP/obj" "$TMP/got"

# Clear errors, no secrets in them (s3rver does not check SigV4 signatures:
# t0103 plays SignatureDoesNotMatch, t0102 compares signatures to botocore).
out=$(tb get --objstore.config="$(s3cfg 'access_key: NOPE' 'secret_key: TopSecretValue')" env/obj 2>&1)
expect_eq "s3: a wrong key says InvalidAccessKeyId" "$(echo "$out" | grep -c "error: s3 get 'env/obj': 403 InvalidAccessKeyId")" 1
expect_eq "s3: the secret never shows in the error" "$(echo "$out" | grep -c TopSecretValue)" 0
out=$(tb get --objstore.config="$(s3cfg "${keys[@]}")" env/missing 2>&1)
expect_eq "s3: a missing key says NoSuchKey" "$(echo "$out" | grep -c "get 'env/missing'.*NoSuchKey")" 1
out=$(tb iter --objstore.config="$(s3cfg "${keys[@]}" | sed 's/bucket: test/bucket: nobucket/')" 2>&1)
expect_eq "s3: a missing bucket says NoSuchBucket" "$(echo "$out" | grep -c "error: .*NoSuchBucket")" 1
expect_fail "s3: signature_version2 is refused" \
  tb iter --objstore.config="$(s3cfg "${keys[@]}" 'signature_version2: true')"
expect_fail "s3: an unknown key is refused" \
  tb iter --objstore.config="$(s3cfg "${keys[@]}" 'bogus_key: 1')"

# Metrics with Thanos's names and labels.
tb get --objstore.config="$(s3cfg "${keys[@]}")" --print-metrics env/obj >/dev/null 2>"$TMP/metrics"
expect "s3: operations counted by bucket and operation" \
  grep -q '^thanos_objstore_bucket_operations_total{bucket="test",operation="get"} 1' "$TMP/metrics"
expect "s3: durations observed" \
  grep -q '^thanos_objstore_bucket_operation_duration_seconds_count{bucket="test",operation="get"} 1' "$TMP/metrics"
tb rm --objstore.config="$(s3cfg "${keys[@]}")" env/obj

# --- tools bucket ls on both backends ----------------------------------------------
meta() { # meta ULID MINT MAXT LEVEL RES
  printf '{"ulid":"%s","minTime":%s,"maxTime":%s,"stats":{},"compaction":{"level":%s,"sources":["%s"]},"version":1,"thanos":{"labels":{"a":"b"},"downsample":{"resolution":%s},"source":"sidecar"}}\n' \
    "$1" "$2" "$3" "$4" "$1" "$5"
}
b1=01JD0000000000000000000001 b2=01JD0000000000000000000002 b3=01JD0000000000000000000003
meta $b1 1732406400000 1732413600000 1 0 >"$TMP/m1"
meta $b2 1732413600000 1732586400000 3 300000 >"$TMP/m2"
echo '{}' >"$TMP/mark"
for cfg in "$fscfg" "$(s3cfg "${keys[@]}")"; do
  kind=$(echo "$cfg" | head -1 | sed 's/type: //')
  tb put --objstore.config="$cfg" $b1/meta.json "$TMP/m1"
  tb put --objstore.config="$cfg" $b1/chunks/000001 "$TMP/obj"
  tb put --objstore.config="$cfg" $b2/meta.json "$TMP/m2"
  tb put --objstore.config="$cfg" $b2/deletion-mark.json "$TMP/mark"
  tb put --objstore.config="$cfg" $b3/index "$TMP/obj"      # partial: no meta.json
  tb put --objstore.config="$cfg" debug/notablock "$TMP/obj"
  expect_eq "$kind: ls lists blocks with meta.json" \
    "$(tb ls --objstore.config="$cfg" | tr '\n' ' ')" "$b1 $b2 "
  expect_eq "$kind: ls --exclude-delete" \
    "$(tb ls --objstore.config="$cfg" --exclude-delete | tr '\n' ' ')" "$b1 "
  expect_eq "$kind: ls -o wide" "$(tb ls --objstore.config="$cfg" -o wide | tail -1)" \
    "$b2 -- 2024-11-24T02:00:00Z - 2024-11-26T02:00:00Z Diff: 48h0m0s, Compaction: 3, Downsample: 300000, Source: sidecar"
  expect_eq "$kind: ls -o json" \
    "$(tb ls --objstore.config="$cfg" --output=json | $PYTHON -c 'import json,sys; d=json.JSONDecoder(); s=sys.stdin.read().strip(); o,i=d.raw_decode(s); print(o["ulid"], o["thanos"]["downsample"]["resolution"])')" \
    "$b1 0"
done
expect_eq "inspect: table header" "$(tb inspect --objstore.config="$fscfg" | head -1 | tr -s ' ')" \
  "| ULID | FROM | UNTIL | RANGE | UNTIL-DOWN | #SERIES | #SAMPLES | #CHUNKS | COMP-LEVEL | COMP-FAILED | LABELS | RESOLUTION | SOURCE |"
expect_eq "inspect: rows sorted by FROM" \
  "$(tb inspect --objstore.config="$fscfg" | tail -n +3 | cut -d'|' -f2,3,4,5,6,10,12,13 | tr -s ' ')" \
  "$(printf ' %s | 24-11-2024 00:00:00 | 24-11-2024 02:00:00 | 2h0m0s | 38h0m0s | 1 | a=b | 0s \n %s | 24-11-2024 02:00:00 | 26-11-2024 02:00:00 | 48h0m0s | 192h0m0s | 3 | a=b | 5m0s ' $b1 $b2)"
expect_eq "inspect: csv, --sort-by, --selector" \
  "$(tb inspect --objstore.config="$fscfg" -o csv --sort-by COMP-LEVEL --sort-by ULID -l 'a="b"' | cut -d, -f1,9 | tr '\n' ' ')" \
  "ULID,COMP-LEVEL $b1,1 $b2,3 "
expect_eq "inspect: a selector nothing matches" \
  "$(tb inspect --objstore.config="$fscfg" -o tsv -l a=c | wc -l)" 1
expect_fail "inspect: an unknown --sort-by column" tb inspect --objstore.config="$fscfg" --sort-by NOPE
tb put --objstore.config="$fscfg" $b3/meta.json <(echo '{"ulid": 5}') 2>/dev/null || printf '{"ulid": 5}' >"$TMP/fs/$b3/meta.json"
out=$(tb ls --objstore.config="$fscfg" 2>&1)
expect_eq "filesystem: ls skips a corrupt meta.json with a warning" \
  "$(echo "$out" | grep -c "corrupt meta.json.*block=$b3"),$(echo "$out" | grep -c "^01JD")" "1,2"
expect_fail "ls: bad -o value is a usage error" tb ls --objstore.config="$fscfg" -o yaml

done_testing
