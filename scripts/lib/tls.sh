# Throwaway certificates for the TLS tests (and for trying TLS by hand). Source it, then:
#   make_test_certificates DIR
# writes into DIR, with openssl, keys as mode 0600:
#   ca.crt ca.key                   a CA that signs everything below
#   server.crt server.key           server certificate for 127.0.0.1, ::1 and localhost (subjectAltName)
#   client.crt client.key           client certificate (CN netra-client) for servers that require one
#   wrong-ca.crt wrong-ca.key       a second CA that signed nothing here: trusting it must fail every handshake
#   wrong-host.crt wrong-host.key   server certificate signed by ca.crt whose only name is wrong.example
# Existing files are kept (a run reuses them); certificates are valid for 30 days.

# _tls_sign DIR NAME SUBJECT EXTENSIONS: a key and a certificate signed by DIR/ca.crt.
_tls_sign() {
  local dir=$1 name=$2 subject=$3 extensions=$4
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  printf '%s\n' "$extensions" >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

# _tls_ca DIR NAME SUBJECT: a self-signed CA.
_tls_ca() {
  local dir=$1 name=$2 subject=$3
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 30 -sha256 -subj "$subject" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$dir/$name.key" -out "$dir/$name.crt" 2>/dev/null
}

make_test_certificates() {
  local dir=$1
  mkdir -p "$dir"
  if [ -f "$dir/wrong-host.crt" ] && openssl x509 -checkend 86400 -noout -in "$dir/ca.crt" >/dev/null 2>&1; then
    return 0
  fi
  rm -f "$dir"/*.crt "$dir"/*.key "$dir"/*.srl
  _tls_ca "$dir" ca "/CN=Netra test CA"
  _tls_ca "$dir" wrong-ca "/CN=Netra unrelated test CA"
  _tls_sign "$dir" server "/CN=localhost" \
    "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
  _tls_sign "$dir" client "/CN=netra-client" \
    "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature,keyEncipherment"
  _tls_sign "$dir" wrong-host "/CN=wrong.example" \
    "subjectAltName=DNS:wrong.example
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature,keyEncipherment"
  rm -f "$dir"/*.srl
  chmod 0600 "$dir"/*.key
  chmod 0644 "$dir"/*.crt
  openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" "$dir/client.crt" "$dir/wrong-host.crt" >/dev/null \
    || { echo "error: generated certificates do not verify" >&2; return 1; }
}
