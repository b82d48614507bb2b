#!/usr/bin/env bash
# Makes a throwaway private CA and a server certificate for 127.0.0.1 / localhost,
# signed by it, for the TLS tests: DIR/ca.pem, DIR/server.pem, DIR/server-key.pem.
#
#   scripts/test-cert.sh DIR
set -euo pipefail
dir=${1:?usage: scripts/test-cert.sh DIR}
mkdir -p "$dir"
cd "$dir"
quiet() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout ca-key.pem -out ca.pem -subj "/CN=drydock test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout server-key.pem -out server.csr -subj "/CN=127.0.0.1"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > server.ext
quiet openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 2 \
  -extfile server.ext -out server.pem
rm -f server.csr server.ext ca.srl
