# The OpenID Connect provider that the single sign-on tests run against (Tests/OIDC/provider.py) and the
# virtualenv it runs in. Source it after scripts/lib/services.sh (for log, die and as_root); it expects REPO.
#
#   ensure_oidc_venv   creates .data/venv-oidc (git-ignored) with authlib and cryptography when they are missing,
#                      and exports NETRA_TEST_OIDC_PYTHON and NETRA_TEST_OIDC_PROVIDER for the Swift tests.
#
# Self-check of the provider: "$NETRA_TEST_OIDC_PYTHON" Tests/OIDC/selfcheck.py

# authlib.jose, which the provider uses, is deprecated since authlib 1.7 (for joserfc) and goes in 2.0: keep authlib
# below 2. Installed only when the import fails, so a venv that works is left as it is.
OIDC_AUTHLIB_VERSION=1.9.10
OIDC_CRYPTOGRAPHY_VERSION=50.0.2

ensure_oidc_venv() {
  local venv="$REPO/.data/venv-oidc"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating the virtualenv $venv"
    if ! /usr/bin/python3 -m venv "$venv" 2>/dev/null; then
      rm -rf "$venv"
      log "installing python3-venv"
      as_root apt-get update -qq
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      /usr/bin/python3 -m venv "$venv" || die "cannot create a virtualenv in $venv"
    fi
  fi
  if ! "$venv/bin/python" -c 'import authlib.jose, cryptography' 2>/dev/null; then
    log "installing authlib $OIDC_AUTHLIB_VERSION and cryptography $OIDC_CRYPTOGRAPHY_VERSION into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      "authlib==$OIDC_AUTHLIB_VERSION" "cryptography==$OIDC_CRYPTOGRAPHY_VERSION" \
      || die "cannot install authlib and cryptography into $venv"
  fi
  export NETRA_TEST_OIDC_PYTHON="$venv/bin/python"
  export NETRA_TEST_OIDC_PROVIDER="$REPO/Tests/OIDC/provider.py"
}
